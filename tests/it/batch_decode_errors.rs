//! `input.on_decode_error` on a clip whose 7th of 12 frames cannot be decoded
//! (`fixtures/damaged/decode_error_mid.avi`): `fail` fails the file naming the time,
//! `skip_frame` leaves the frame out with a warning that counts it, `repeat_frame` shows
//! the 6th frame again in its place; and a changed policy redoes the damaged files only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::path::PathBuf;

use util::{decode_rgb, frame_count, psnr, RunOutput, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// The damaged clip as `in/d.avi`, run with `policy` (`None`: the default).
fn run_damaged(policy: Option<&str>) -> (Workspace, PathBuf, RunOutput) {
    let ws = Workspace::new();
    ws.input(&[("damaged/decode_error_mid.avi", "d.avi")]);
    let extra = policy.map_or(String::new(), |p| format!("  on_decode_error: {p}\n"));
    let pipeline = ws.pipeline_with(&extra, "out", RESTORE_X2);
    let run = ws.run(&pipeline, &[]);
    (ws, pipeline, run)
}

#[test]
fn fail_policy_fails_the_file_naming_the_time() {
    for policy in [None, Some("fail")] {
        let (ws, _, run) = run_damaged(policy);
        assert_eq!(run.code, Some(1), "{policy:?}:\n{}", run.stderr);
        let lines = ws.failure_lines(&run.stderr, "d.avi");
        assert_eq!(lines.len(), 1, "{}", run.stderr);
        // Frame 7 of 12 at 12 fps starts at 0.5 s.
        assert!(
            lines[0].contains("video decode error at 0.500 s of 1.000 s"),
            "{}",
            lines[0]
        );
        assert_eq!(ws.finished_outputs(), Vec::<String>::new());
        assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
    }
}

#[test]
fn skip_frame_policy_leaves_the_frame_out_with_a_counted_warning() {
    let (ws, _, run) = run_damaged(Some("skip_frame"));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(frame_count(&ws.path("out/d.mkv")), 11);
    let input = ws.path("in/d.avi").display().to_string();
    assert!(
        run.stderr.lines().any(|l| l.contains("WARN")
            && l.contains(&input)
            && l.contains("1 frame(s) could not be decoded and were left out")),
        "{}",
        run.stderr
    );
}

#[test]
fn repeat_frame_policy_shows_the_previous_frame_again() {
    let (ws, _, run) = run_damaged(Some("repeat_frame"));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("1 frame(s) could not be decoded and were replaced"),
        "{}",
        run.stderr
    );
    let frames = decode_rgb(&ws.path("out/d.mkv"));
    assert_eq!(frames.len(), 12);
    let repeated = psnr(frames[6].as_raw(), frames[5].as_raw());
    let moving = psnr(frames[5].as_raw(), frames[4].as_raw());
    println!("PSNR 7th vs 6th: {repeated:.1} dB; 6th vs 5th: {moving:.1} dB");
    assert!(
        repeated >= 40.0,
        "the 7th frame is not the 6th: {repeated:.1} dB"
    );
    // The clip pans, so neighbouring frames differ: the check above can tell.
    assert!(moving < 40.0, "{moving:.1} dB");
}

/// Files with damaged frames depend on the policy; clean files do not, so a changed
/// policy redoes exactly the damaged ones.
#[test]
fn changed_policy_redoes_only_files_with_damaged_frames() {
    let ws = Workspace::new();
    ws.input(&[
        ("damaged/decode_error_mid.avi", "d.avi"),
        ("video/mjpeg.avi", "m.avi"),
    ]);
    let skip = ws.pipeline_with("  on_decode_error: skip_frame\n", "out", RESTORE_X2);
    let first = ws.run(&skip, &[]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert_eq!(frame_count(&ws.path("out/d.mkv")), 11);
    let repeat = ws.pipeline_with("  on_decode_error: repeat_frame\n", "out", RESTORE_X2);
    let rerun = ws.run(&repeat, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    assert_eq!(
        ws.lines_for(&rerun.stderr, "done", "d.avi").len(),
        1,
        "{}",
        rerun.stderr
    );
    assert_eq!(
        ws.lines_for(&rerun.stderr, "skip", "m.avi").len(),
        1,
        "{}",
        rerun.stderr
    );
    assert_eq!(frame_count(&ws.path("out/d.mkv")), 12);
    // Unchanged policy: both finished.
    let again = ws.run(&repeat, &[]);
    for name in ["d.avi", "m.avi"] {
        assert_eq!(
            ws.lines_for(&again.stderr, "skip", name).len(),
            1,
            "{}",
            again.stderr
        );
    }
}
