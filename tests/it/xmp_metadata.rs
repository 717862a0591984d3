//! XMP metadata as archive tools read it, checked with a real reader (`exiftool`): the
//! caption as description and alt text, the IPTC digital source type of restored
//! outputs, the run in `xmpMM:History` (tool, model and its sha256), embedded in PNG and
//! MP4, in a `NAME.EXT.xmp` sidecar for MKV and caption-only runs, and the source's own
//! IPTC keywords kept.

use std::path::Path;
use std::process::Command;

use crate::util::{fixture, frame_count, root, Workspace};

const ENHANCED: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced";

/// What exiftool reads of `path`'s XMP (tag name → value).
fn exiftool(path: &Path) -> serde_json::Value {
    let output = Command::new("exiftool")
        .args(["-j", "-XMP:all"])
        .arg(path)
        .output()
        .expect("exiftool runs (Debian libimage-exiftool-perl)");
    assert!(output.status.success(), "exiftool {}", path.display());
    let mut all: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    all.remove(0)
}

fn restore_and_caption(container: &str) -> String {
    format!(
        "stages:\n  - restore:\n      model: {{x2}}\n  - caption:\n      model: {}\n      every: 1s\n\
         encode:\n  container: {container}\n",
        root().join("models/captioner").display()
    )
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// The one caption the report gives for `name`.
fn first_caption(ws: &Workspace, name: &str) -> String {
    let report = ws.report();
    let item = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["input"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in the report"));
    item["captions"][0]["text"].as_str().unwrap().to_string()
}

/// The fields every restored output's XMP must have.
fn assert_restored_xmp(xmp: &serde_json::Value, caption: &str) {
    assert_eq!(xmp["Description"], caption, "{xmp:#}");
    assert_eq!(xmp["AltTextAccessibility"], caption, "{xmp:#}");
    assert_eq!(xmp["DigitalSourceType"], ENHANCED, "{xmp:#}");
    assert_eq!(xmp["HistoryAction"], "edited", "{xmp:#}");
    let agent = format!("FrameForge {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(xmp["HistorySoftwareAgent"], agent.as_str(), "{xmp:#}");
    let parameters = xmp["HistoryParameters"].as_str().unwrap_or_default();
    let sha = sha256_hex(&root().join("models/realesr-animevideov3-x2.onnx"));
    assert!(
        parameters.contains("realesr-animevideov3-x2.onnx") && parameters.contains(&sha),
        "{parameters}"
    );
    assert!(parameters.contains("captioned with"), "{parameters}");
    let when = xmp["HistoryWhen"].as_str().unwrap_or_default();
    assert!(when.starts_with("20") && when.len() >= 19, "{when}");
}

#[test]
fn a_restored_still_carries_its_caption_source_type_history_and_the_sources_keywords() {
    let ws = Workspace::new();
    ws.input(&[("images/coffee.jpg", "coffee.jpg")]);
    let source = ws.path("in/coffee.jpg");
    let tagged = Command::new("exiftool")
        .args([
            "-q",
            "-overwrite_original",
            "-Keywords=harbour",
            "-Keywords=1953",
        ])
        .arg(&source)
        .status()
        .unwrap();
    assert!(tagged.success());
    let pipeline = ws.pipeline(&restore_and_caption("mkv"));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let caption = first_caption(&ws, "coffee.jpg");
    let xmp = exiftool(&ws.path("out/coffee.png"));
    assert_restored_xmp(&xmp, &caption);
    assert_eq!(
        xmp["Subject"],
        serde_json::json!(["harbour", 1953]),
        "{xmp:#}"
    );
    // Embedded in the PNG: no sidecar unless asked for.
    assert!(!ws.path("out/coffee.png.xmp").exists());
}

#[test]
fn an_mp4_carries_its_xmp_inside_and_stays_playable() {
    let ws = Workspace::new();
    ws.input(&[("video/h264_aac_subs_chapters.mkv", "reel.mkv")]);
    // MP4 cannot store the reel's SubRip track.
    let pipeline = ws.pipeline(&format!(
        "{}  subtitles: drop\n",
        restore_and_caption("mp4")
    ));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let output = ws.path("out/reel.mp4");
    let xmp = exiftool(&output);
    let report = ws.report();
    let captions: Vec<&str> = report["items"][0]["captions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    let mut distinct = captions.clone();
    distinct.dedup();
    assert_restored_xmp(&xmp, &distinct.join("; "));
    assert_eq!(
        frame_count(&output),
        frame_count(&fixture("video/h264_aac_subs_chapters.mkv"))
    );
    assert!(!ws.path("out/reel.mp4.xmp").exists());
}

#[test]
fn an_mkv_gets_a_sidecar_and_xmp_sidecar_adds_one_beside_every_output() {
    let ws = Workspace::new();
    ws.input(&[
        ("video/h264_aac_subs_chapters.mkv", "reel.mkv"),
        ("images/coffee.jpg", "coffee.jpg"),
    ]);
    let pipeline = ws.pipeline_with("", "out\n  xmp: sidecar", &restore_and_caption("mkv"));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let reel = exiftool(&ws.path("out/reel.mkv.xmp"));
    assert_eq!(reel["DigitalSourceType"], ENHANCED, "{reel:#}");
    let still = exiftool(&ws.path("out/coffee.png.xmp"));
    assert_restored_xmp(&still, &first_caption(&ws, "coffee.jpg"));
    // The sidecars are outputs: the journal knows them, so a rerun that finds one
    // missing redoes its item.
    std::fs::remove_file(ws.path("out/reel.mkv.xmp")).unwrap();
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    assert!(ws.path("out/reel.mkv.xmp").exists(), "{}", rerun.stderr);
}

#[test]
fn captions_only_get_a_sidecar_named_after_the_input_without_a_source_type() {
    let ws = Workspace::new();
    ws.input(&[("images/coffee.jpg", "coffee.jpg")]);
    let body = format!(
        "stages:\n  - caption:\n      model: {}\n",
        root().join("models/captioner").display()
    );
    let run = ws.run(&ws.pipeline(&body), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let xmp = exiftool(&ws.path("out/coffee.jpg.xmp"));
    assert_eq!(
        xmp["Description"],
        first_caption(&ws, "coffee.jpg").as_str()
    );
    assert_eq!(xmp["HistoryAction"], "captioned");
    assert!(xmp.get("DigitalSourceType").is_none(), "{xmp:#}");
}

#[test]
fn xmp_off_writes_none() {
    let ws = Workspace::new();
    ws.input(&[("images/coffee.jpg", "coffee.jpg")]);
    let pipeline = ws.pipeline_with("", "out\n  xmp: off", &restore_and_caption("mkv"));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let xmp = exiftool(&ws.path("out/coffee.png"));
    assert!(
        xmp.get("Description").is_none() && xmp.get("DigitalSourceType").is_none(),
        "{xmp:#}"
    );
    assert!(!ws.path("out/coffee.png.xmp").exists());
}
