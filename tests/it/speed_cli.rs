//! `frameforge speed`: a pipeline's restore stages timed on synthetic frames, with the
//! size they come out at, the device and the sessions the run would use; pipelines it
//! cannot time are refused with the reason.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use util::{frameforge, Workspace};

/// `frameforge speed PIPELINE ARGS… --json`: the exit code and the summary (or stderr).
fn speed(pipeline: &std::path::Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let output = frameforge()
        .arg("speed")
        .arg(pipeline)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summary = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output.status.code().unwrap(), summary, stderr)
}

#[test]
fn stages_are_timed_on_frames_of_the_size_asked_for() {
    let ws = Workspace::new();
    let pipeline = ws.pipeline(
        "stages:\n  - restore:\n      model: {x2}\n      tile: 32\n      tile_batch: 3\n  \
         - restore:\n      model: {x4}\n      scale: 2\n      tile: 0\n",
    );
    let (code, summary, stderr) = speed(
        &pipeline,
        &["--size", "40x24", "--frames", "3", "--threads", "2"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["input"], serde_json::json!([40, 24]));
    assert_eq!(
        summary["output"],
        serde_json::json!([160, 96]),
        "×2 then ×4 delivered at ×2"
    );
    assert_eq!(summary["frames"], 3);
    assert_eq!(summary["device"], "cpu");
    assert_eq!(
        summary["sessions"], 2,
        "one single-threaded session per thread"
    );
    let (seconds, fps) = (
        summary["seconds"].as_f64().unwrap(),
        summary["frames_per_second"].as_f64().unwrap(),
    );
    assert!(
        seconds > 0.0 && (fps * seconds - 3.0).abs() < 1e-6,
        "{summary}"
    );
    assert!(summary["warm_up_seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_text_line_says_what_was_timed() {
    let ws = Workspace::new();
    let pipeline = ws.pipeline("stages:\n  - restore:\n      model: {x2}\n      tile: 0\n");
    let output = frameforge()
        .args([
            "speed",
            pipeline.to_str().unwrap(),
            "--size",
            "16x16",
            "--frames",
            "2",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let line = String::from_utf8(output.stdout).unwrap();
    assert!(
        line.contains(": 16x16 -> 32x32 on cpu, 1 session(s): 2 frames in "),
        "{line}"
    );
    assert!(line.trim_end().ends_with("(not counted)"), "{line}");
}

#[test]
fn pipelines_it_cannot_time_are_refused_with_the_reason() {
    let ws = Workspace::new();
    let filters = ws.pipeline("stages:\n  - filter: \"hflip\"\n");
    let (code, _, stderr) = speed(&filters, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "{}: no restore stage to time (`speed` runs restoration models only)",
            filters.display()
        )
    );
    let broken = ws.pipeline("stages:\n  - restore:\n      model: {x2}\n      tile_batch: 0\n");
    let (code, summary, stderr) = speed(&broken, &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(":8:19: tile_batch 0 is out of range (expected 1 to 64)"),
        "{stderr}"
    );
    assert_eq!(summary["exit_code"], 2);
    let (code, _, stderr) = speed(&filters, &["--size", "720"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`720` is not a frame size (expected WIDTHxHEIGHT, e.g. 720x576)"),
        "{stderr}"
    );
}
