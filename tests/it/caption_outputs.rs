//! Captioning through the binary: caption files that parse back, cue times inside the
//! video and in order, one caption per shot, the caption track muxed into a restored
//! MKV, the run's index, and clear errors for broken model folders.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use util::{frameforge, probe, root, streams_of, Workspace};

/// `(start, end, text)` of every cue of a WebVTT or SubRip document.
fn parse_cues(text: &str, vtt: bool) -> Vec<(f64, f64, String)> {
    let seconds = |t: &str| {
        let t = t.trim().replace(',', ".");
        let parts: Vec<f64> = t.split(':').map(|p| p.parse::<f64>().unwrap()).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
    };
    let body = if vtt {
        // The header block: `WEBVTT` and the descriptions' kind and language.
        let (header, cues) = text.split_once("\n\n").unwrap_or((text, ""));
        assert_eq!(header, "WEBVTT\nKind: descriptions\nLanguage: en");
        cues
    } else {
        text
    };
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let lines: Vec<&str> = block.trim().lines().collect();
            assert!(
                lines[0].parse::<u32>().is_ok(),
                "cue number missing: {block}"
            );
            let (start, end) = lines[1].split_once(" --> ").unwrap();
            (seconds(start), seconds(end), lines[2..].join(" "))
        })
        .collect()
}

fn caption_pipeline(ws: &Workspace, sampling: &str) -> std::path::PathBuf {
    let model = root().join("models/captioner");
    ws.pipeline(&format!(
        "stages:\n  - caption:\n      model: {}\n{sampling}",
        model.display()
    ))
}

#[test]
fn one_caption_per_shot_in_valid_vtt_srt_and_json() {
    let ws = Workspace::new();
    ws.input(&[("caption/shapes.mkv", "shapes.mkv")]);
    let pipeline = caption_pipeline(&ws, "      scene_threshold: 0.1\n");
    frameforge().arg("run").arg(&pipeline).assert().success();
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(util::fixture("caption/shapes.json")).unwrap(),
    )
    .unwrap();
    let duration: f64 = probe(&ws.path("in/shapes.mkv"))["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let vtt = parse_cues(
        &std::fs::read_to_string(ws.path("out/shapes.vtt")).unwrap(),
        true,
    );
    let srt = parse_cues(
        &std::fs::read_to_string(ws.path("out/shapes.srt")).unwrap(),
        false,
    );
    assert_eq!(vtt, srt, "WebVTT and SubRip disagree");
    let cuts: Vec<f64> = truth["scenes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start_s"].as_f64().unwrap())
        .collect();
    let starts: Vec<f64> = vtt.iter().map(|c| c.0).collect();
    assert_eq!(starts.len(), cuts.len(), "cues {vtt:?}");
    for (start, cut) in starts.iter().zip(&cuts) {
        assert!(
            (start - cut).abs() <= 0.1,
            "cue at {start} for a cut at {cut}"
        );
    }
    for window in vtt.windows(2) {
        assert!(
            window[0].1 <= window[1].0 + 1e-9,
            "cues overlap or are out of order: {vtt:?}"
        );
    }
    for (start, end, text) in &vtt {
        assert!(
            *start >= 0.0 && end <= &(duration + 0.05) && start < end,
            "{start}..{end} outside 0..{duration}"
        );
        assert!(!text.is_empty());
    }
    let document: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path("out/shapes.captions.json")).unwrap(),
    )
    .unwrap();
    let cues = document["cues"].as_array().unwrap();
    assert_eq!(cues.len(), vtt.len());
    assert!(cues
        .iter()
        .all(|c| c["mean_log_prob"].as_f64().unwrap() < 0.0));
    assert_eq!(
        ws.outputs().iter().filter(|f| f.ends_with(".mkv")).count(),
        0,
        "captioning alone re-encodes nothing"
    );
    let index = std::fs::read_to_string(ws.path("out/captions.jsonl")).unwrap();
    assert_eq!(index.lines().count(), vtt.len());
}

#[test]
fn identical_consecutive_captions_merge_into_one_cue() {
    let ws = Workspace::new();
    ws.input(&[("caption/shapes.mkv", "shapes.mkv")]);
    // Every 0.5 s: four samples per two-second shot, each shot one cue.
    let pipeline = caption_pipeline(&ws, "      every: 500ms\n");
    frameforge().arg("run").arg(&pipeline).assert().success();
    let vtt = parse_cues(
        &std::fs::read_to_string(ws.path("out/shapes.vtt")).unwrap(),
        true,
    );
    assert!(vtt.len() <= 6, "{vtt:?}");
    for window in vtt.windows(2) {
        assert_ne!(
            window[0].2, window[1].2,
            "neighbours with the same text were not merged"
        );
    }
}

#[test]
fn images_get_a_text_caption_and_a_json_document() {
    // Each still with the caption transformers gave for it (tools/caption/make_clips.py).
    let stills: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(util::fixture("caption/stills.json")).unwrap(),
    )
    .unwrap();
    let first = &stills["stills"][0];
    let file = first["file"].as_str().unwrap();
    let expected = first["model_greedy"].as_str().unwrap();
    let ws = Workspace::new();
    ws.input(&[(&format!("caption/{file}"), "a/still.png")]);
    let pipeline = caption_pipeline(&ws, "      beams: 1\n");
    let run = frameforge().arg("run").arg(&pipeline).output().unwrap();
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("1 captioned, 0 skipped, 0 failed in "),
        "a caption-only run says what it did: {stderr}"
    );
    assert_eq!(
        ws.outputs(),
        vec!["a/still.captions.json", "a/still.txt", "captions.jsonl"]
    );
    let text = std::fs::read_to_string(ws.path("out/a/still.txt")).unwrap();
    assert_eq!(text, format!("{expected}\n"));
}

#[test]
fn restored_video_carries_the_captions_as_a_subtitle_track() {
    let ws = Workspace::new();
    ws.input(&[("video/ffv1.mkv", "clip.mkv")]);
    let model = root().join("models/captioner");
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {{x2}}\n  - caption:\n      model: {}\n      every: 250ms\n",
        model.display()
    ));
    frameforge().arg("run").arg(&pipeline).assert().success();
    let output = ws.path("out/clip.mkv");
    let json = probe(&output);
    let subtitles = streams_of(&json, "subtitle");
    assert_eq!(subtitles.len(), 1);
    assert_eq!(subtitles[0]["codec_name"], "subrip");
    assert_eq!(subtitles[0]["tags"]["title"], "Captions");
    let srt = parse_cues(
        &std::fs::read_to_string(ws.path("out/clip.srt")).unwrap(),
        false,
    );
    let packets = util::probe_with(&output, &["-select_streams", "s:0", "-show_packets"]);
    assert_eq!(packets["packets"].as_array().unwrap().len(), srt.len());
    assert_eq!(streams_of(&json, "video")[0]["width"], 192);
}

#[test]
fn broken_model_folders_are_named_with_what_is_missing() {
    let ws = Workspace::new();
    let folder = ws.path("captioner");
    std::fs::create_dir_all(&folder).unwrap();
    for entry in std::fs::read_dir(root().join("models/captioner")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name != "tokenizer.json" {
            std::fs::copy(&path, folder.join(&name)).unwrap();
        }
    }
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - caption:\n      model: {}\n",
        folder.display()
    ));
    let stderr = util::refused_by_validate(&pipeline);
    assert!(
        stderr.trim_end().ends_with(&format!(
            ":7:14: {}: missing (a captioning model folder needs tokenizer.json)",
            folder.join("tokenizer.json").display()
        )),
        "{stderr}"
    );
    // An encoder that is really a restoration model: its input is not `pixel_values`.
    std::fs::copy(
        root().join("models/captioner/tokenizer.json"),
        folder.join("tokenizer.json"),
    )
    .unwrap();
    std::fs::copy(
        util::model("realesr-animevideov3-x2.onnx"),
        folder.join("encoder_model.onnx"),
    )
    .unwrap();
    let stderr = util::refused_by_validate(&pipeline);
    assert!(
        stderr.trim_end().ends_with(&format!(
            ":7:14: {}: expected input `pixel_values` (float32 [rank 4]), found inputs: input",
            folder.join("encoder_model.onnx").display()
        )),
        "{stderr}"
    );
}
