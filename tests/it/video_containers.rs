//! What is settled for each video before it is decoded: a container that cannot hold
//! the pipeline's codec (`container: same` on an MPEG program stream) gets its own codec
//! when the pipeline leaves the codec to its default, and refuses the file when the
//! pipeline names one; frames of a size the encoder refuses fail their file with the
//! fix, and the rest of the batch goes on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use crate::util;

use std::path::Path;

use serde_json::Value;
use util::{frame_count, probe, probe_with, streams_of, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

fn seconds(value: &Value) -> f64 {
    value.as_str().unwrap().parse().unwrap()
}

/// Decoding timestamps of the video packets, in file order (a packet without one is
/// left out: ffprobe gives it none to compare).
fn video_dts(path: &Path) -> Vec<f64> {
    let json = probe_with(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=dts_time",
            "-show_packets",
        ],
    );
    json["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["dts_time"].as_str().map(|t| t.parse().unwrap()))
        .collect()
}

/// `container: same` on an `.mpg` with the default codec: ffmpeg's program-stream muxer
/// would take H.264 and write it with non-monotonic DTS and a later start; the output
/// is MPEG-2 instead, every frame there, DTS rising, the start time the source's, and
/// the report says why the codec is not the default one.
#[test]
fn container_same_gives_an_mpeg_program_stream_mpeg2_video_and_keeps_its_start() {
    let ws = Workspace::new();
    ws.input(&[("video/mpeg2.mpg", "tape.mpg")]);
    let pipeline = ws.pipeline(&format!("{RESTORE_X2}encode:\n  container: same\n"));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let (source, output) = (ws.path("in/tape.mpg"), ws.path("out/tape.mpg"));
    let (sp, op) = (probe(&source), probe(&output));
    assert_eq!(op["format"]["format_name"], "mpeg");
    let video = &streams_of(&op, "video")[0];
    assert_eq!(video["codec_name"], "mpeg2video");
    assert_eq!(
        (&video["width"], &video["height"]),
        (&192.into(), &128.into())
    );
    assert_eq!(frame_count(&output), 12);
    let video_start = |p: &Value| seconds(&streams_of(p, "video")[0]["start_time"]);
    let container_start = |p: &Value| seconds(&p["format"]["start_time"]);
    for (what, kept, was) in [
        ("video", video_start(&op), video_start(&sp)),
        ("container", container_start(&op), container_start(&sp)),
    ] {
        assert!(
            (kept - was).abs() < 0.001,
            "{what} start {kept} s, source {was} s"
        );
    }
    let dts = video_dts(&output);
    assert_eq!(dts.len(), 12, "{dts:?}");
    assert!(
        dts.windows(2).all(|w| w[0] < w[1]),
        "DTS not rising: {dts:?}"
    );
    // The first warning; the fixture's interlacing brings another.
    let warnings = ws.report()["items"][0]["warnings"].clone();
    assert_eq!(
        warnings[0],
        "vob cannot hold video from the default encoder libx264: written with mpeg2video, \
         the container's own codec (set `encode.codec` to choose, or `container: mkv` to \
         keep libx264)",
        "{warnings}"
    );
}

/// A codec the pipeline names is never swapped: the program stream that cannot hold it
/// fails its file before anything is written, naming what would fit, and the batch
/// goes on.
#[test]
fn container_same_refuses_a_named_codec_an_mpeg_program_stream_cannot_hold() {
    let ws = Workspace::new();
    ws.input(&[
        ("video/mpeg2.mpg", "tape.mpg"),
        ("video/ffv1.mkv", "clip.mkv"),
    ]);
    let body = format!("{RESTORE_X2}encode:\n  container: same\n  codec: libx264\n");
    let run = ws.run(&ws.pipeline(&body), &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        ws.failure_lines(&run.stderr, "tape.mpg"),
        [format!(
            "{}: video codec h264 cannot be stored in vob; use `codec: mpeg2video`, \
             `container: mkv` or `container: mp4`",
            ws.path("in/tape.mpg").display()
        )],
        "{}",
        run.stderr
    );
    assert_eq!(ws.outputs(), ["clip.mkv"]);
}

/// A source whose size the filters keep, odd here, makes frames libx264 refuses in
/// 4:2:0: that file fails when it is opened, with the size, the encoder's reason and a
/// filter that fixes it, and an even-sized file of the same batch is restored.
#[test]
fn frames_of_a_size_the_encoder_refuses_fail_their_file_with_the_fix() {
    let ws = Workspace::new();
    ws.input(&[
        ("video/odd_241x135.mkv", "odd.mkv"),
        ("video/ffv1.mkv", "even.mkv"),
    ]);
    let run = ws.run(&ws.pipeline("stages:\n  - filter: \"null\"\n"), &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        ws.failure_lines(&run.stderr, "odd.mkv"),
        [format!(
            "{}: libx264 cannot encode 241x135 frames in yuv420p (width not divisible by 2 \
             (241x135)); it takes widths and heights that are multiples of 2; a first stage \
             `filter: \"scale=trunc(iw/2)*2:trunc(ih/2)*2\"` makes such sizes",
            ws.path("in/odd.mkv").display()
        )],
        "{}",
        run.stderr
    );
    assert_eq!(ws.outputs(), ["even.mkv"]);
    assert_eq!(frame_count(&ws.path("out/even.mkv")), 12);
}
