//! One run per output directory, and interruption: a second run on a locked output exits
//! 75 at once naming the holder, or waits with `--wait`; shards lock separately; SIGINT
//! or SIGTERM stops a run cleanly (the running file stops at a frame boundary, its
//! temporary is removed, the report says interrupted, exit 130), a second signal ends it
//! at once, and either way a rerun completes the batch.
//!
//! Signals are sent with `kill(1)`; the tests wait for the run's own stderr lines to
//! know where it is, never for a fixed time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use util::{frame_count, Background, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// Four 12-frame clips, processed one at a time: each takes long enough (well over
/// 100 ms) that a signal sent as one starts arrives while it runs.
fn four_clips() -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    ws.input(&[
        ("video/ffv1.mkv", "c1.mkv"),
        ("video/ffv1.mkv", "c2.mkv"),
        ("video/ffv1.mkv", "c3.mkv"),
        ("video/ffv1.mkv", "c4.mkv"),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    (ws, pipeline)
}

/// Waits until `c1.mkv` is done and `c2.mkv` has started.
fn wait_for_second_file(run: &mut Background) {
    run.wait_for_line("c1.mkv to finish", |l| {
        l.starts_with("done ") && l.contains("c1.mkv")
    });
    run.wait_for_line("c2.mkv to start", |l| l == "start c2.mkv");
}

/// Every output is complete: as many frames as its source.
fn assert_outputs_complete(ws: &Workspace, names: &[&str]) {
    for name in names {
        assert_eq!(
            frame_count(&ws.path(&format!("out/{name}"))),
            12,
            "{name} is incomplete"
        );
    }
}

/// A rerun after an interruption: exit 0, `c1.mkv` skipped, all four complete, no
/// temporary left.
fn assert_rerun_completes(ws: &Workspace, pipeline: &std::path::Path) {
    let rerun = ws.run(pipeline, &["--jobs", "1"]);
    assert_eq!(rerun.code, Some(0), "rerun:\n{}", rerun.stderr);
    assert_eq!(
        ws.lines_for(&rerun.stderr, "skip", "c1.mkv").len(),
        1,
        "{}",
        rerun.stderr
    );
    assert_eq!(
        ws.finished_outputs(),
        ["c1.mkv", "c2.mkv", "c3.mkv", "c4.mkv"]
    );
    assert_outputs_complete(ws, &["c1.mkv", "c2.mkv", "c3.mkv", "c4.mkv"]);
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
}

#[test]
fn second_run_on_a_locked_output_exits_75_naming_the_holder() {
    // A long batch, so the holder is still at work when the second run asks; it is
    // interrupted once the second run has been refused.
    let ws = Workspace::new();
    let clips: Vec<(&str, String)> = (0..16)
        .map(|i| ("video/ffv1.mkv", format!("c{i:02}.mkv")))
        .collect();
    let clips: Vec<(&str, &str)> = clips.iter().map(|(f, n)| (*f, n.as_str())).collect();
    ws.input(&clips);
    let pipeline = ws.pipeline(RESTORE_X2);
    let mut holder = ws.start(&pipeline, &["--jobs", "1"]);
    // Files start only once the lock is held.
    holder.wait_for_line("the first file to start", |l| l.starts_with("start "));
    let started = Instant::now();
    let second = ws.run(&pipeline, &[]);
    println!(
        "the second run gave up after {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        holder.is_running(),
        "the holder ended before the second run was refused"
    );
    assert_eq!(second.code, Some(75), "{}", second.stderr);
    let expected = format!("pid {}, started ", holder.pid());
    assert!(
        second.stderr.contains(&expected) && second.stderr.contains("--wait"),
        "the message should name the holder ({expected}…) and --wait:\n{}",
        second.stderr
    );
    assert!(
        !second.stderr.contains("start "),
        "the refused run processed files:\n{}",
        second.stderr
    );
    holder.signal("INT");
    let holder = holder.wait();
    assert_eq!(holder.code, Some(130), "{}", holder.stderr);
}

/// Holds the output lock of `out/` (file `name`) from this test process, as a run does.
fn hold_lock(ws: &Workspace, name: &str) -> std::fs::File {
    let dir = ws.path("out/.frameforge");
    std::fs::create_dir_all(&dir).unwrap();
    let mut file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join(name))
        .unwrap();
    file.lock().unwrap();
    write!(file, "pid {}, started by a test", std::process::id()).unwrap();
    file
}

#[test]
fn wait_flag_waits_for_the_lock_and_then_runs() {
    let ws = Workspace::new();
    ws.input(&[("images/coffee.jpg", "a.jpg")]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let lock = hold_lock(&ws, "lock");
    let mut waiting = ws.start(&pipeline, &["--wait"]);
    // While the lock is held the run must neither end nor write anything. (A broken
    // --wait would exit 75 or restore the file well within this time.)
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && waiting.is_running() {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        waiting.is_running(),
        "the run did not wait:\n{}",
        waiting.lines().join("\n")
    );
    assert_eq!(ws.outputs(), Vec::<String>::new());
    drop(lock);
    let done = waiting.wait();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(ws.finished_outputs(), ["a.png"]);
}

/// A run waiting for the lock once slept in a blocking `flock` through SIGINT, so a
/// single Ctrl-C (or a supervisor's single SIGTERM) did nothing until the holder ended.
#[test]
fn interrupt_while_waiting_for_the_lock_exits_130_without_touching_the_output() {
    let ws = Workspace::new();
    ws.input(&[("images/coffee.jpg", "a.jpg")]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let _lock = hold_lock(&ws, "lock");
    let mut waiting = ws.start(&pipeline, &["--wait"]);
    let line = waiting.wait_for_line("the run to say it waits", |l| l.contains("waiting for it"));
    assert!(
        line.contains(&format!("pid {}", std::process::id())),
        "{line}"
    );
    let sent = Instant::now();
    waiting.signal("TERM");
    let stopped = waiting.wait();
    println!(
        "SIGTERM to exit while waiting: {:.3} s",
        sent.elapsed().as_secs_f64()
    );
    assert_eq!(stopped.code, Some(130), "{stopped:?}");
    assert!(
        stopped.stderr.contains("interrupted while waiting"),
        "{}",
        stopped.stderr
    );
    // The output directory belongs to the lock holder: no report, no output.
    assert!(!ws.path("out/report.json").exists());
    assert_eq!(ws.outputs(), Vec::<String>::new());
}

#[test]
fn different_shards_of_one_output_do_not_block_each_other() {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "a.jpg"),
        ("images/astronaut.png", "b.png"),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let _first_shard = hold_lock(&ws, "lock-1-of-2");
    let second = ws.run(&pipeline, &["--shard", "2/2"]);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    // The same shard is refused.
    let first_again = ws.run(&pipeline, &["--shard", "1/2"]);
    assert_eq!(first_again.code, Some(75), "{}", first_again.stderr);
    assert!(
        first_again
            .stderr
            .contains(&format!("pid {}", std::process::id())),
        "{}",
        first_again.stderr
    );
}

/// A shard's run as this test process holds it: the directory's lock shared, the
/// shard's own exclusively.
fn hold_shard(ws: &Workspace, index: u32, count: u32) -> (std::fs::File, std::fs::File) {
    let dir = ws.path("out/.frameforge");
    std::fs::create_dir_all(&dir).unwrap();
    let whole = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("lock"))
        .unwrap();
    whole.lock_shared().unwrap();
    let own = hold_lock(ws, &format!("lock-{index}-of-{count}"));
    (whole, own)
}

#[test]
fn a_whole_run_and_shards_of_one_output_keep_each_other_out() {
    let ws = Workspace::new();
    ws.input(&[("images/coffee.jpg", "a.jpg")]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let shard = hold_shard(&ws, 1, 2);
    let whole = ws.run(&pipeline, &[]);
    assert_eq!(whole.code, Some(75), "{}", whole.stderr);
    assert!(
        whole
            .stderr
            .contains(&format!("pid {}, started by a test", std::process::id())),
        "the refusal should name the running shard:\n{}",
        whole.stderr
    );
    // Another shard still runs beside it.
    let other = ws.run(&pipeline, &["--shard", "2/2"]);
    assert_eq!(other.code, Some(0), "{}", other.stderr);
    drop(shard);
    let _whole_run = hold_lock(&ws, "lock");
    let refused = ws.run(&pipeline, &["--shard", "1/2"]);
    assert_eq!(refused.code, Some(75), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("pid {}", std::process::id())),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("start ") && !whole.stderr.contains("start "),
        "a refused run processed files"
    );
}

/// The first signal: the running file stops, its temporary is removed, the report says
/// interrupted, exit 130; a rerun completes the batch.
fn interrupt_stops_cleanly_and_resumes(signal: &str) {
    let (ws, pipeline) = four_clips();
    let mut run = ws.start(&pipeline, &["--jobs", "1"]);
    wait_for_second_file(&mut run);
    let sent = Instant::now();
    run.signal(signal);
    let stopped = run.wait();
    println!("SIG{signal} to exit: {:.3} s", sent.elapsed().as_secs_f64());
    assert_eq!(stopped.code, Some(130), "{stopped:?}");
    let c2 = ws.path("in/c2.mkv").display().to_string();
    assert!(
        stopped
            .stderr
            .lines()
            .any(|l| l == format!("{c2}: interrupted")),
        "c2.mkv should be reported interrupted:\n{}",
        stopped.stderr
    );
    assert!(
        stopped.stderr.contains("(interrupted; rerun to resume)"),
        "{}",
        stopped.stderr
    );
    // Only the finished file has an output, and it is complete; nothing temporary.
    assert_eq!(ws.finished_outputs(), ["c1.mkv"]);
    assert_outputs_complete(&ws, &["c1.mkv"]);
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
    // Files after the interrupted one were never started.
    for name in ["c3.mkv", "c4.mkv"] {
        assert!(ws.lines_for(&stopped.stderr, "start", name).is_empty());
    }
    let report = ws.report();
    assert_eq!(report["interrupted"], true, "{report:#}");
    assert_eq!(report["exit_code"], 130);
    let statuses: Vec<(String, String)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["input"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("c1.mkv".to_string(), "done".to_string()),
            ("c2.mkv".to_string(), "interrupted".to_string())
        ]
    );
    assert_rerun_completes(&ws, &pipeline);
}

#[test]
fn sigint_stops_at_a_frame_boundary_and_a_rerun_resumes() {
    interrupt_stops_cleanly_and_resumes("INT");
}

#[test]
fn sigterm_stops_at_a_frame_boundary_and_a_rerun_resumes() {
    interrupt_stops_cleanly_and_resumes("TERM");
}

#[test]
fn second_signal_exits_at_once_and_a_rerun_still_resumes() {
    let (ws, pipeline) = four_clips();
    let mut run = ws.start(&pipeline, &["--jobs", "1"]);
    wait_for_second_file(&mut run);
    // Two different signals, so the kernel cannot merge them into one; the lower
    // number (SIGINT) is delivered first.
    let sent = Instant::now();
    run.signal("INT");
    run.signal("TERM");
    let stopped = run.wait();
    println!(
        "second signal to exit: {:.3} s",
        sent.elapsed().as_secs_f64()
    );
    assert_eq!(stopped.code, Some(130), "{stopped:?}");
    // At once: no orderly end (no summary line, no report).
    assert!(
        !stopped.stderr.contains("restored,"),
        "the run ended in order instead of at once:\n{}",
        stopped.stderr
    );
    assert!(!ws.path("out/report.json").exists());
    assert_eq!(ws.finished_outputs(), ["c1.mkv"]);
    assert_rerun_completes(&ws, &pipeline);
}

/// The second signal once left the running file's `.NAME.frameforge-tmp.mkv` in the
/// output for a user to find (only the next run removed it): the abort now removes it
/// before ending, and says so.
#[test]
fn second_signal_removes_the_running_files_temporary_and_says_so() {
    let (ws, pipeline) = four_clips();
    let mut run = ws.start(&pipeline, &["--jobs", "1"]);
    wait_for_second_file(&mut run);
    util::wait_until("a temporary to be written", || {
        !ws.temporaries_under("out").is_empty()
    });
    run.signal_twice("INT", "TERM");
    let stopped = run.wait();
    assert_eq!(stopped.code, Some(130), "{stopped:?}");
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
    let prefix = format!(
        "interrupted again: stopped at once, removed the unfinished {}/.c",
        ws.path("out").display()
    );
    assert!(
        stopped
            .stderr
            .lines()
            .any(|l| l.starts_with(&prefix)
                && l.ends_with(".mkv.frameforge-tmp.mkv; a rerun resumes")),
        "{}",
        stopped.stderr
    );
    assert!(!ws.path("out/report.json").exists());
}
