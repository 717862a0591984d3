//! Filters that change the frame rate: `fps` up and down, field-rate deinterlacing
//! (`yadif=mode=send_field`) and motion interpolation (`minterpolate`, as the shipped
//! `pipelines/interpolate-film.yaml` runs it). In Matroska and MP4 alike the output
//! states the filters' rate, its frames lie one output frame apart, the video ends
//! where the source's does (within one output frame) and the stream and the container
//! say so, the copied audio starts and ends where it did, and a checkpointed run
//! resumed across such a change writes the timeline of an uninterrupted one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::path::Path;

use serde_json::Value;
use util::checkpoints::{long_video, resumed_frames, stop_after_segments};
use util::{
    frame_times, lowest_psnr, packet_counts, probe, probe_with, ratio, root, seconds, streams_of,
    Workspace,
};

/// 2 s at 12 fps: 24 H.264 frames from 0.021 s to 2.021 s, AAC from 0 s to 2.026 s
/// (and a SubRip track, dropped: MP4 cannot hold it).
const CLIP: &str = "video/h264_aac_subs_chapters.mkv";

/// Interlaced MPEG-2 (top field first) in MPEG-PS: 12 frames at 12 fps from 0.583 s to
/// 1.583 s (the last without a timestamp), MP2 audio from 0.573 s.
const INTERLACED: &str = "video/mpeg2.mpg";

/// How far the same time may read in two files: Matroska keeps milliseconds.
const MS: f64 = 0.0011;

/// Runs `filter` on `fixture` into Matroska and into MP4 and checks each output: `rate`
/// as ffprobe prints it, `frames` frames.
fn check(fixture: &str, filter: &str, rate: &str, frames: usize) {
    let ws = Workspace::new();
    let name = Path::new(fixture).file_name().unwrap().to_str().unwrap();
    let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
    ws.input(&[(fixture, name)]);
    for container in ["mkv", "mp4"] {
        let out = format!("out-{container}");
        let pipeline = ws.pipeline_with(
            "",
            &out,
            &format!(
                "device: cpu\nstages:\n  - filter: \"{filter}\"\nencode:\n  container: \
                 {container}\n  codec: libx264\n  subtitles: drop\n"
            ),
        );
        let run = ws.run(&pipeline, &[]);
        assert_eq!(
            run.code,
            Some(0),
            "{filter} into {container}:\n{}",
            run.stderr
        );
        let output = ws.path(&format!("{out}/{stem}.{container}"));
        assert_follows_the_filters(&ws.path(&format!("in/{name}")), &output, rate, frames);
    }
}

/// The output's rate, frame spacing and end, as its frames, its video stream and its
/// container state them, follow the filters; its audio is the source's.
pub(crate) fn assert_follows_the_filters(source: &Path, output: &Path, rate: &str, frames: usize) {
    let label = output.display();
    let facts = probe(output);
    let video = &streams_of(&facts, "video")[0];
    assert_eq!(video["r_frame_rate"], rate, "{label}: r_frame_rate");
    assert_eq!(video["avg_frame_rate"], rate, "{label}: avg_frame_rate");
    let step = 1.0 / ratio(&Value::from(rate)).unwrap();
    let times = frame_times(output);
    assert_eq!(times.len(), frames, "{label}: frames");
    for pair in times.windows(2) {
        assert!(
            (pair[1] - pair[0] - step).abs() <= MS,
            "{label}: frames at {pair:?}, {step:.4} s apart expected"
        );
    }
    let end = times.last().unwrap() + step;
    let source_end = video_end(source);
    assert!(
        (end - source_end).abs() <= step + MS,
        "{label}: the video ends at {end:.3} s, the source's at {source_end:.3} s"
    );
    let stated = stated_end(video);
    assert!(
        (stated - end).abs() <= MS,
        "{label}: the video stream says it ends at {stated:.3} s, its frames at {end:.3} s"
    );
    let audio = audio_span(output);
    let source_audio = audio_span(source);
    assert_eq!(audio.0, source_audio.0, "{label}: audio packets");
    assert!(
        (audio.1 - source_audio.1).abs() <= MS && (audio.2 - source_audio.2).abs() <= MS,
        "{label}: audio from {:.3} s to {:.3} s, the source's from {:.3} s to {:.3} s",
        audio.1,
        audio.2,
        source_audio.1,
        source_audio.2
    );
    let container = seconds(&facts["format"]["duration"]).unwrap();
    assert!(
        (container - end.max(audio.2)).abs() <= MS,
        "{label}: the container says {container:.3} s, its streams end at {end:.3} s (video) \
         and {:.3} s (audio)",
        audio.2
    );
}

/// Where a file's video ends: its last frame's time plus one frame at its rate.
pub(crate) fn video_end(path: &Path) -> f64 {
    let rate = ratio(&streams_of(&probe(path), "video")[0]["r_frame_rate"]).unwrap();
    frame_times(path).last().unwrap() + 1.0 / rate
}

/// Where a video stream says it ends: Matroska's `DURATION` tag, else its start plus
/// its duration (MP4).
fn stated_end(video: &Value) -> f64 {
    if let Some(tag) = video["tags"]["DURATION"].as_str() {
        return tag
            .split(':')
            .map(|part| part.parse::<f64>().unwrap())
            .fold(0.0, |total, part| total * 60.0 + part);
    }
    seconds(&video["start_time"]).unwrap() + seconds(&video["duration"]).unwrap()
}

/// The first audio stream's packet count, first timestamp and end (seconds).
pub(crate) fn audio_span(path: &Path) -> (usize, f64, f64) {
    let json = probe_with(
        path,
        &[
            "-select_streams",
            "a:0",
            "-show_entries",
            "packet=pts_time,duration_time",
        ],
    );
    let packets = json["packets"].as_array().unwrap();
    let times: Vec<(f64, f64)> = packets
        .iter()
        .map(|p| {
            let pts = seconds(&p["pts_time"]).unwrap();
            (pts, pts + seconds(&p["duration_time"]).unwrap())
        })
        .collect();
    let first = times.iter().map(|t| t.0).fold(f64::INFINITY, f64::min);
    let end = times.iter().map(|t| t.1).fold(f64::NEG_INFINITY, f64::max);
    (times.len(), first, end)
}

/// 12 fps to 25 (frames at 0.04 … 2.0 s) and to 50 (0.02 … 2.0 s): the rate the filter
/// makes, not the source's 12, and the length of the source, not 5 s.
#[test]
fn fps_up_gives_the_higher_rate_and_keeps_the_length() {
    check(CLIP, "fps=25", "25/1", 50);
    check(CLIP, "fps=50", "50/1", 100);
}

/// 12 fps to 5 (frames at 0 … 1.8 s): the last frame lasts 0.2 s, not 17 s.
#[test]
fn fps_down_gives_the_lower_rate_and_keeps_the_length() {
    check(CLIP, "fps=5", "5/1", 10);
}

/// One frame per field: 12 interlaced frames become 24 at 24 fps, and the MPEG-PS
/// stream's last frame, which has no timestamp, is one of them.
#[test]
fn field_rate_deinterlacing_doubles_the_rate() {
    check(INTERLACED, "yadif=mode=send_field", "24/1", 24);
}

/// The shipped interpolation chain, 12 fps to 24 (frames at 1/24 … 2.0 s): the padding
/// lets the interpolation reach the source's last frame.
#[test]
fn motion_interpolation_as_shipped_keeps_the_length() {
    let text = std::fs::read_to_string(root().join("pipelines/interpolate-film.yaml")).unwrap();
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with("- filter:"))
        .expect("a filter stage");
    let chain = line.split('"').nth(1).unwrap();
    assert!(chain.contains("minterpolate=fps=24"), "{chain}");
    check(CLIP, chain, "24/1", 48);
}

/// A video doubled to 24 fps and restored in 0.5 s segments (12 frames), killed after
/// two segments and run again, has every frame where an uninterrupted run puts it.
#[test]
fn a_run_resumed_across_a_rate_change_keeps_the_new_timeline() {
    let ws = Workspace::new();
    let source = long_video(&ws, 3);
    let body =
        "device: cpu\nstages:\n  - filter: \"fps=24\"\n  - restore:\n      model: {x2}\n      \
                tile: 0\nencode:\n  codec: libx264\n  crf: 18\nrun:\n  checkpoint: 0.5s\n";
    let reference = ws.pipeline_with("", "reference", body);
    let run = ws.run(&reference, &[]);
    assert_eq!(run.code, Some(0), "reference run:\n{}", run.stderr);
    let reference = ws.path("reference/long.mkv");

    let pipeline = ws.pipeline(body);
    let killed = stop_after_segments(&ws, &pipeline, 2, "KILL");
    assert_eq!(killed.signal, Some(9), "the run was not killed: {killed:?}");
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "rerun:\n{}", rerun.stderr);
    let resumed = resumed_frames(&ws);
    println!("resumed after {resumed} of 72 frames");
    assert!(
        (24..72).contains(&resumed) && resumed.is_multiple_of(12),
        "resumed_frames {resumed}"
    );
    let output = ws.path("out/long.mkv");
    assert_follows_the_filters(&source, &output, "24/1", 72);
    assert_eq!(frame_times(&output), frame_times(&reference));
    assert_eq!(packet_counts(&output), packet_counts(&reference));
    let lowest = lowest_psnr(&output, &reference);
    println!("lowest PSNR against the uninterrupted run: {lowest:.1} dB");
    assert!(lowest >= 40.0, "{lowest:.1} dB");
}
