//! Resuming and the journal's rules: a run killed with SIGKILL resumes without redoing
//! what it finished; a rerun skips what is finished and redoes exactly what changed (an
//! input, the pipeline, a deleted output), or everything with `--force`; and the journal
//! finds its outputs whatever directory the rerun starts in.
//!
//! Every run uses the ×2 model on whole frames and small fixtures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::collections::BTreeMap;
use std::path::PathBuf;

use util::{frame_count, frameforge, wait_until, FileIdentity, RunOutput, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// Input name → its output name, for the small batch of the journal tests.
const SMALL_BATCH: &[(&str, &str, &str)] = &[
    ("images/coffee.jpg", "a.jpg", "a.png"),
    ("video/flat_bt709.mkv", "b.mkv", "b.mkv"),
    ("images/astronaut.png", "stills/c.png", "stills/c.png"),
];

/// A workspace with `SMALL_BATCH` restored once (exit 0).
fn restored_small_batch(body: &str) -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    let files: Vec<(&str, &str)> = SMALL_BATCH.iter().map(|(f, n, _)| (*f, *n)).collect();
    ws.input(&files);
    let pipeline = ws.pipeline(body);
    let first = ws.run(&pipeline, &[]);
    assert_eq!(first.code, Some(0), "first run:\n{}", first.stderr);
    (ws, pipeline)
}

/// The inputs (names below `in/`) that a run restored and that it skipped.
fn done_and_skipped(ws: &Workspace, run: &RunOutput) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut done = Vec::new();
    let mut skipped = Vec::new();
    for (_, name, _) in SMALL_BATCH {
        let d = ws.lines_for(&run.stderr, "done", name).len();
        let s = ws.lines_for(&run.stderr, "skip", name).len();
        assert_eq!(
            d + s,
            1,
            "{name}: one done or skip line expected:\n{}",
            run.stderr
        );
        if d == 1 {
            done.push(*name);
        } else {
            skipped.push(*name);
        }
    }
    (done, skipped)
}

fn all_names() -> Vec<&'static str> {
    SMALL_BATCH.iter().map(|(_, n, _)| *n).collect()
}

/// The outputs whose identity (inode, size, modification time) changed.
fn rewritten(
    before: &BTreeMap<String, FileIdentity>,
    after: &BTreeMap<String, FileIdentity>,
) -> Vec<String> {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the set of outputs changed"
    );
    before
        .iter()
        .filter(|(name, identity)| after[*name] != **identity)
        .map(|(name, _)| name.clone())
        .collect()
}

/// Sleeps past the file system's timestamp granularity, so a rewritten output gets a
/// different modification time than the one it replaces.
fn let_the_clock_tick() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

#[test]
fn killed_run_resumes_without_redoing_finished_files() {
    let ws = Workspace::new();
    // Six small inputs, processed one at a time in name order.
    let inputs: &[(&str, &str)] = &[
        ("video/ffv1.mkv", "v1.mkv"),
        ("video/ffv1.mkv", "v2.mkv"),
        ("images/coffee.jpg", "v3.jpg"),
        ("video/ffv1.mkv", "v4.mkv"),
        ("images/astronaut.png", "v5.png"),
        ("video/ffv1.mkv", "v6.mkv"),
    ];
    ws.input(inputs);
    let pipeline = ws.pipeline(RESTORE_X2);
    let run = ws.start(&pipeline, &["--jobs", "1"]);
    wait_until("the first output", || !ws.finished_outputs().is_empty());
    run.signal("KILL");
    let killed = run.wait();
    assert_eq!(killed.signal, Some(9), "the run was not killed: {killed:?}");
    let finished = ws.output_identities();
    println!("finished before the kill: {:?}", finished.keys());
    assert!(!finished.is_empty());

    let_the_clock_tick();
    let rerun = ws.run(&pipeline, &["--jobs", "1"]);
    assert_eq!(rerun.code, Some(0), "rerun:\n{}", rerun.stderr);
    for (_, name) in inputs {
        let output = if name.ends_with(".mkv") {
            (*name).to_string()
        } else {
            name.rsplit_once('.').unwrap().0.to_string() + ".png"
        };
        if finished.contains_key(&output) {
            assert_eq!(
                ws.lines_for(&rerun.stderr, "skip", name).len(),
                1,
                "{name} finished before the kill but is not skipped:\n{}",
                rerun.stderr
            );
            assert!(
                ws.lines_for(&rerun.stderr, "start", name).is_empty(),
                "{name} processed twice:\n{}",
                rerun.stderr
            );
            assert_eq!(
                FileIdentity::of(&ws.path(&format!("out/{output}"))),
                finished[&output],
                "{output} was rewritten"
            );
        }
        // Every output is complete and valid.
        let path = ws.path(&format!("out/{output}"));
        if output.ends_with(".mkv") {
            assert_eq!(
                frame_count(&path),
                frame_count(&ws.path(&format!("in/{name}"))),
                "{output}: frame count"
            );
        } else {
            let source = image::open(ws.path(&format!("in/{name}"))).unwrap();
            let restored = image::open(&path).unwrap();
            assert_eq!(restored.width(), 2 * source.width(), "{output}");
        }
    }
    assert_eq!(
        ws.finished_outputs().len(),
        inputs.len(),
        "{:?}",
        ws.outputs()
    );
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
}

#[test]
fn rerun_with_nothing_changed_skips_everything_and_touches_no_output() {
    let (ws, pipeline) = restored_small_batch(RESTORE_X2);
    let before = ws.output_identities();
    let_the_clock_tick();
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let (done, skipped) = done_and_skipped(&ws, &rerun);
    assert_eq!((done, skipped), (vec![], all_names()));
    assert_eq!(
        rewritten(&before, &ws.output_identities()),
        Vec::<String>::new()
    );
}

#[test]
fn touched_input_is_the_only_one_redone() {
    let (ws, pipeline) = restored_small_batch(RESTORE_X2);
    let before = ws.output_identities();
    let_the_clock_tick();
    // Same bytes, new modification time.
    let touched = std::fs::File::options()
        .write(true)
        .open(ws.path("in/b.mkv"))
        .unwrap();
    touched
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    drop(touched);
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let (done, _) = done_and_skipped(&ws, &rerun);
    assert_eq!(done, ["b.mkv"]);
    assert_eq!(rewritten(&before, &ws.output_identities()), ["b.mkv"]);
}

#[test]
fn changed_pipeline_redoes_every_file() {
    let (ws, _) = restored_small_batch(RESTORE_X2);
    let before = ws.output_identities();
    let_the_clock_tick();
    let changed = ws.pipeline(&format!("{RESTORE_X2}encode:\n  crf: 30\n"));
    let rerun = ws.run(&changed, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let (done, _) = done_and_skipped(&ws, &rerun);
    assert_eq!(done, all_names());
    assert_eq!(
        rewritten(&before, &ws.output_identities()).len(),
        SMALL_BATCH.len()
    );
}

#[test]
fn force_redoes_every_file() {
    let (ws, pipeline) = restored_small_batch(RESTORE_X2);
    let before = ws.output_identities();
    let_the_clock_tick();
    let rerun = ws.run(&pipeline, &["--force"]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let (done, _) = done_and_skipped(&ws, &rerun);
    assert_eq!(done, all_names());
    assert_eq!(
        rewritten(&before, &ws.output_identities()).len(),
        SMALL_BATCH.len()
    );
}

#[test]
fn output_deleted_by_hand_is_redone() {
    let (ws, pipeline) = restored_small_batch(RESTORE_X2);
    std::fs::remove_file(ws.path("out/stills/c.png")).unwrap();
    let before: BTreeMap<String, FileIdentity> = ws.output_identities();
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let (done, _) = done_and_skipped(&ws, &rerun);
    assert_eq!(done, ["stills/c.png"]);
    assert!(ws.path("out/stills/c.png").is_file());
    let mut after = ws.output_identities();
    after.remove("stills/c.png");
    assert_eq!(rewritten(&before, &after), Vec::<String>::new());
}

/// The journal once recorded outputs as the paths the run used, which are relative to
/// the working directory when the pipeline was given as a relative path; a rerun started
/// elsewhere (a cron job) then found none of them and redid the whole batch.
#[test]
fn rerun_from_another_working_directory_skips_finished_files() {
    let ws = Workspace::new();
    let files: Vec<(&str, &str)> = SMALL_BATCH.iter().map(|(f, n, _)| (*f, *n)).collect();
    ws.input(&files);
    let pipeline = ws.pipeline(RESTORE_X2);
    let first: RunOutput = frameforge()
        .current_dir(ws.path(""))
        .args(["run", "pipeline.yaml"])
        .output()
        .unwrap()
        .into();
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let before = ws.output_identities();
    let rerun: RunOutput = frameforge()
        .current_dir(ws.path("in"))
        .arg("run")
        .arg(&pipeline)
        .output()
        .unwrap()
        .into();
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let (done, skipped) = done_and_skipped(&ws, &rerun);
    assert_eq!((done, skipped), (vec![], all_names()), "{}", rerun.stderr);
    assert_eq!(
        rewritten(&before, &ws.output_identities()),
        Vec::<String>::new()
    );
}

/// A `--force` rerun killed while redoing a finished file leaves that file's temporary;
/// the next run skips the file (its earlier output is still good) and must still clear
/// the temporary away.
#[test]
fn temporary_of_a_killed_forced_redo_is_removed_by_the_next_run() {
    let (ws, pipeline) = restored_small_batch(RESTORE_X2);
    let before = ws.output_identities();
    let run = ws.start(&pipeline, &["--force", "--jobs", "1"]);
    wait_until("a temporary output", || {
        !ws.temporaries_under("out").is_empty()
    });
    run.signal("KILL");
    assert_eq!(run.wait().signal, Some(9));
    let left = ws.temporaries_under("out");
    println!("left by the kill: {left:?}");
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
    assert_eq!(ws.output_identities().len(), before.len());
}
