//! What a batch run prints when nobody watches a terminal (cron, pipes, CI): the exit
//! codes in `--help`; one plain line per file started, finished or failed and no escape
//! codes; `--quiet` with only failures and the summary; `--json` with one summary
//! object on stdout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::path::PathBuf;

use util::{ffmpeg, frameforge, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// A batch of two good files, one that does not open, and one with a damaged frame
/// that `skip_frame` leaves out with a warning (the warning is a log line, the kind
/// that once carried colour codes into pipes).
fn mixed_batch() -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "a.jpg"),
        ("video/flat_bt709.mkv", "b.mkv"),
        ("bad/garbage.mkv", "c.mkv"),
        ("damaged/decode_error_mid.avi", "d.avi"),
    ]);
    let pipeline = ws.pipeline_with("  on_decode_error: skip_frame\n", "out", RESTORE_X2);
    (ws, pipeline)
}

#[test]
fn help_documents_every_exit_code() {
    for args in [vec!["--help"], vec!["run", "--help"]] {
        let output = frameforge().args(&args).output().unwrap();
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        for code in ["0", "1", "2", "75", "130"] {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{code} "))),
                "{args:?}: exit code {code} is not documented:\n{help}"
            );
        }
        assert!(help.contains("--wait"), "{help}");
    }
}

#[test]
fn piped_stderr_gets_one_plain_line_per_file_and_no_escape_codes() {
    let (ws, pipeline) = mixed_batch();
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        !run.stderr.contains('\x1b'),
        "escape codes in piped stderr:\n{:?}",
        run.stderr
    );
    for name in ["a.jpg", "b.mkv", "c.mkv", "d.avi"] {
        assert_eq!(
            ws.lines_for(&run.stderr, "start", name).len(),
            1,
            "{name}: one start line expected:\n{}",
            run.stderr
        );
    }
    for name in ["a.jpg", "b.mkv", "d.avi"] {
        assert_eq!(
            ws.lines_for(&run.stderr, "done", name).len(),
            1,
            "{name}: one done line expected:\n{}",
            run.stderr
        );
        assert!(ws.failure_lines(&run.stderr, name).is_empty());
    }
    assert_eq!(
        ws.failure_lines(&run.stderr, "c.mkv").len(),
        1,
        "{}",
        run.stderr
    );
    assert!(ws.lines_for(&run.stderr, "done", "c.mkv").is_empty());
    // The warning about the left-out frame is there, plain.
    assert!(
        run.stderr
            .lines()
            .any(|l| l.trim_start().starts_with("WARN ")
                && l.contains("d.avi")
                && l.contains("1 frame(s)")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("3 restored, 0 skipped, 1 failed in "),
        "{}",
        run.stderr
    );
}

#[test]
fn quiet_prints_only_failures_and_the_summary() {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "a.jpg"),
        ("video/flat_bt709.mkv", "b.mkv"),
        ("bad/garbage.mkv", "c.mkv"),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    for args in [vec!["--quiet"], vec!["-q", "--force"]] {
        let run = ws.run(&pipeline, &args);
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}:\n{}", run.stderr);
        assert_eq!(ws.failure_lines(&run.stderr, "c.mkv"), [lines[0]]);
        assert!(lines[1].contains(" restored, ") && lines[1].contains(" 1 failed "));
    }
    // The second run skipped a.jpg and b.mkv without saying so; the first restored them.
    assert_eq!(ws.finished_outputs(), ["a.png", "b.mkv"]);
}

#[test]
fn json_prints_one_summary_object_on_stdout() {
    let (ws, pipeline) = mixed_batch();
    let run = ws.run(&pipeline, &["--json"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout:\n{}", run.stdout);
    let summary: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(summary["done"], 3, "{summary}");
    assert_eq!(summary["skipped"], 0, "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");
    // d.avi's damaged frames were left out: done, with a warning.
    assert_eq!(summary["warned"], 1, "{summary}");
    assert_eq!(summary["exit_code"], 1, "{summary}");
    assert_eq!(summary["interrupted"], false, "{summary}");

    let rerun = ws.run(&pipeline, &["--json", "--quiet"]);
    let summary: serde_json::Value = serde_json::from_str(rerun.stdout.trim()).unwrap();
    assert_eq!(
        (
            &summary["done"],
            &summary["skipped"],
            &summary["failed"],
            &summary["warned"]
        ),
        (&0.into(), &3.into(), &1.into(), &0.into()),
        "{summary}"
    );
    assert_eq!(summary["exit_code"], rerun.code.unwrap());
}

/// Runs that end before processing anything still print their summary for `--json`:
/// the exit code and the reason.
#[test]
fn json_summary_also_comes_for_config_errors_and_a_locked_output() {
    let (ws, pipeline) = mixed_batch();
    let broken = ws.path("broken.yaml");
    std::fs::write(
        &broken,
        "input: {path: in}\noutput: {path: out}\nstages: []\nbogus: 1\n",
    )
    .unwrap();
    let run = ws.run(&broken, &["--json"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let summary: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(summary["exit_code"], 2, "{summary}");
    let error = summary["error"].as_str().unwrap();
    assert!(
        error.contains("broken.yaml:4:1: unknown field `bogus`"),
        "{error}"
    );

    std::fs::create_dir_all(ws.path("out/.frameforge")).unwrap();
    let lock = std::fs::File::create(ws.path("out/.frameforge/lock")).unwrap();
    lock.lock().unwrap();
    let run = ws.run(&pipeline, &["--json"]);
    assert_eq!(run.code, Some(75), "{}", run.stderr);
    let summary: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(summary["exit_code"], 75, "{summary}");
    assert_eq!(summary["done"], 0, "{summary}");
    assert!(
        summary["error"]
            .as_str()
            .unwrap()
            .contains("is in use by another run"),
        "{summary}"
    );
}

/// Stills listed after a long film are done while the film still runs when files go in
/// parallel, and only after it one file at a time: small files do not wait behind a
/// film, and the film alone still gets the sessions the stills leave free.
#[test]
fn small_files_do_not_wait_behind_a_long_film() {
    let ws = Workspace::new();
    let stills = ["b.jpg", "c.png", "d.webp", "e.png"];
    ws.input(&[
        ("images/coffee.jpg", stills[0]),
        ("images/astronaut.png", stills[1]),
        ("images/chelsea.webp", stills[2]),
        ("images/gray.png", stills[3]),
    ]);
    // Sorted first, so one file at a time would take it first.
    let film = ws.path("in/a-film.mkv");
    ffmpeg([
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=128x96:rate=24:duration=2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        film.to_str().unwrap(),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let order = |args: &[&str]| -> (usize, Vec<usize>) {
        let run = ws.run(&pipeline, args);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let position = |name: &str| {
            let line = ws.lines_for(&run.stderr, "done", name)[0];
            run.stderr.lines().position(|l| l == line).unwrap()
        };
        let film_done = position("a-film.mkv");
        (film_done, stills.iter().map(|s| position(s)).collect())
    };
    let (film_done, stills_done) = order(&["--jobs", "2", "--threads", "2", "--force"]);
    assert!(
        stills_done.iter().all(|s| *s < film_done),
        "with --jobs 2 every still should be done before the film: film at line {film_done}, stills at {stills_done:?}"
    );
    let (film_done, stills_done) = order(&["--jobs", "1", "--threads", "2", "--force"]);
    assert!(
        stills_done.iter().all(|s| *s > film_done),
        "one file at a time the stills wait for the film: film at line {film_done}, stills at {stills_done:?}"
    );
}
