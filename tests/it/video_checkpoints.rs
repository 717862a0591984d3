//! Checkpoints of long videos: a run killed (or interrupted) in the middle of a video
//! resumes after the last segment it finished, the result has every frame at its source
//! time with the audio intact and matches an uninterrupted run, and encoding in segments
//! changes no timestamp of any stream.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::path::{Path, PathBuf};

use util::checkpoints::{committed_segments, resumed_frames, stop_after_segments};
use util::{frame_times, lowest_psnr, packet_counts, probe, probe_with, streams_of, Workspace};

/// Frames of the generated video (12 fps, 8 s) and per checkpoint segment (`1s`).
const FRAMES: u64 = 96;
const SEGMENT: u64 = 12;

fn pipeline_body(checkpoint: &str) -> String {
    format!(
        "device: cpu\nstages:\n  - restore:\n      model: {{x2}}\n      tile: 0\n\
         encode:\n  codec: libx264\n  crf: 18\nrun:\n  checkpoint: {checkpoint}\n"
    )
}

/// A workspace with `in/long.mkv`: 160×120 H.264 at 12 fps with AAC audio, 8 s.
fn long_video() -> Workspace {
    let ws = Workspace::new();
    util::checkpoints::long_video(&ws, 8);
    ws
}

/// No checkpoint store, nor any file of one, is left in the output.
fn assert_no_checkpoints(ws: &Workspace) {
    assert_eq!(committed_segments(&ws.path("out")), 0);
    let left: Vec<String> = ws
        .files_under("out")
        .into_iter()
        .filter(|f| f.starts_with(".frameforge/checkpoints/"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

fn reference_run(ws: &Workspace) -> PathBuf {
    let pipeline = ws.pipeline_with("", "reference", &pipeline_body("1s"));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "reference run:\n{}", run.stderr);
    ws.path("reference/long.mkv")
}

#[test]
fn video_killed_in_the_middle_resumes_after_its_last_checkpoint() {
    let ws = long_video();
    let reference = reference_run(&ws);
    let pipeline = ws.pipeline(&pipeline_body("1s"));
    let killed = stop_after_segments(&ws, &pipeline, 2, "KILL");
    assert_eq!(killed.signal, Some(9), "the run was not killed: {killed:?}");
    assert!(!ws.path("out/long.mkv").exists());

    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "rerun:\n{}", rerun.stderr);
    let resumed = resumed_frames(&ws);
    println!("resumed after {resumed} frames");
    assert!(
        (2 * SEGMENT..FRAMES).contains(&resumed) && resumed.is_multiple_of(SEGMENT),
        "resumed_frames {resumed}"
    );
    let done = ws.lines_for(&rerun.stderr, "done", "long.mkv");
    assert!(
        done.len() == 1
            && done[0].contains(&format!("{FRAMES} frame(s), {resumed} from checkpoints")),
        "{}",
        rerun.stderr
    );
    // Said when the file starts, not only when it ends: at frame / 12 fps.
    let resuming = format!(
        "{}: resuming at 0:00:{:02} from checkpoints (frame {resumed})",
        ws.path("in/long.mkv").display(),
        resumed / 12
    );
    let said_at = rerun.stderr.lines().position(|l| l == resuming);
    let done_at = rerun.stderr.lines().position(|l| l.starts_with("done "));
    assert!(
        said_at.is_some() && said_at < done_at,
        "no `{resuming}` before the file was done:\n{}",
        rerun.stderr
    );
    let output = ws.path("out/long.mkv");
    // Every frame at its source time, the audio whole, and the pictures those of an
    // uninterrupted run (both are x264 at crf 18 of the same restored frames).
    assert_eq!(frame_times(&output), frame_times(&ws.path("in/long.mkv")));
    assert_eq!(packet_counts(&output), packet_counts(&reference));
    let lowest = lowest_psnr(&output, &reference);
    println!("lowest PSNR against the uninterrupted run: {lowest:.1} dB");
    assert!(lowest >= 40.0, "{lowest:.1} dB");
    // Finished: the checkpoints are gone, and so is every temporary.
    assert_no_checkpoints(&ws);
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
}

#[test]
fn interrupted_video_resumes_and_force_starts_it_again() {
    let ws = long_video();
    let pipeline = ws.pipeline(&pipeline_body("1s"));
    let interrupted = stop_after_segments(&ws, &pipeline, 1, "INT");
    assert_eq!(interrupted.code, Some(130), "{}", interrupted.stderr);
    assert!(committed_segments(&ws.path("out")) >= 1);

    // `--force` redoes the video from its first frame.
    let forced = ws.run(&pipeline, &["--force"]);
    assert_eq!(forced.code, Some(0), "{}", forced.stderr);
    assert_eq!(resumed_frames(&ws), 0);

    let changed = ws.pipeline(&pipeline_body("1s").replace("crf: 18", "crf: 20"));
    let interrupted = stop_after_segments(&ws, &changed, 1, "INT");
    assert_eq!(interrupted.code, Some(130), "{}", interrupted.stderr);
    let rerun = ws.run(&changed, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    assert!(resumed_frames(&ws) >= SEGMENT, "{}", rerun.stderr);
    assert_eq!(
        frame_times(&ws.path("out/long.mkv")),
        frame_times(&ws.path("in/long.mkv"))
    );
}

#[test]
fn checkpoints_of_another_pipeline_are_not_used() {
    let ws = long_video();
    let pipeline = ws.pipeline(&pipeline_body("1s"));
    let killed = stop_after_segments(&ws, &pipeline, 1, "KILL");
    assert_eq!(killed.signal, Some(9));
    // Another encoder setting: the segments are another pipeline's.
    let changed = ws.pipeline(&pipeline_body("1s").replace("crf: 18", "crf: 24"));
    let rerun = ws.run(&changed, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    assert_eq!(resumed_frames(&ws), 0);
}

/// Encoding in segments (a keyframe and a fresh encoder every 0.25 s here) keeps every
/// frame's time and duration and every other stream as an encode in one piece does.
#[test]
fn segments_change_no_timestamp() {
    let ws = Workspace::new();
    let inputs = [
        ("video/vfr.mp4", "vfr.mp4"),
        ("video/vfr.mkv", "vfr.mkv"),
        ("video/h264_aac_subs_chapters.mkv", "subs.mkv"),
        ("video/start_offset.mp4", "start.mp4"),
        ("video/mjpeg.avi", "mjpeg.avi"),
    ];
    ws.input(&inputs);
    let body = |checkpoint: &str| {
        pipeline_body(checkpoint).replace("encode:\n", "encode:\n  container: same\n")
    };
    for (output, checkpoint) in [("whole", "off"), ("segmented", "0.25s")] {
        let pipeline = ws.pipeline_with("", output, &body(checkpoint));
        let run = ws.run(&pipeline, &[]);
        assert_eq!(run.code, Some(0), "{output}:\n{}", run.stderr);
    }
    for (_, name) in inputs {
        let whole = ws.path(&format!("whole/{name}"));
        let segmented = ws.path(&format!("segmented/{name}"));
        assert_eq!(
            frame_times(&segmented),
            frame_times(&whole),
            "{name}: frame times"
        );
        assert_eq!(
            packet_counts(&segmented),
            packet_counts(&whole),
            "{name}: streams"
        );
        let times = |path: &Path, kind: &str| -> Vec<String> {
            let json = probe_with(
                path,
                &[
                    "-select_streams",
                    kind,
                    "-show_entries",
                    "packet=pts_time,duration_time",
                ],
            );
            json["packets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| format!("{} {}", p["pts_time"], p["duration_time"]))
                .collect()
        };
        for kind in ["a", "s"] {
            assert_eq!(
                times(&segmented, kind),
                times(&whole, kind),
                "{name}: {kind} packets"
            );
        }
        let keyframes = probe_with(
            &segmented,
            &["-select_streams", "v:0", "-show_entries", "packet=flags"],
        )["packets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["flags"].as_str().unwrap().starts_with('K'))
            .count();
        // Each segment (0.25 s) starts with a keyframe.
        let times = frame_times(&ws.path(&format!("in/{name}")));
        let mut segments = 0;
        let mut start = f64::NEG_INFINITY;
        for t in times {
            if t - start >= 0.25 - 1e-6 {
                segments += 1;
                start = t;
            }
        }
        assert!(
            keyframes >= segments,
            "{name}: {keyframes} keyframes for {segments} segments"
        );
        assert_eq!(
            streams_of(&probe(&segmented), "video")[0]["width"],
            streams_of(&probe(&whole), "video")[0]["width"]
        );
    }
}

#[test]
fn checkpoints_of_a_deleted_input_are_removed_by_the_next_whole_run() {
    let ws = long_video();
    ws.input(&[("video/ffv1.mkv", "small.mkv")]);
    let pipeline = ws.pipeline(&pipeline_body("1s"));
    let killed = stop_after_segments(&ws, &pipeline, 1, "KILL");
    assert_eq!(killed.signal, Some(9));
    std::fs::remove_file(ws.path("in/long.mkv")).unwrap();
    // A shard sees only its share, so it leaves other items' checkpoints alone.
    let shard = ws.run(&pipeline, &["--shard", "1/1"]);
    assert_eq!(shard.code, Some(0), "{}", shard.stderr);
    assert!(committed_segments(&ws.path("out")) >= 1);
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    assert_no_checkpoints(&ws);
}
