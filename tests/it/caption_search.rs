//! `frameforge search` over a captioned output tree: hits name the file and the time
//! range of the caption found, every caption with the word is found, a rerun after an
//! input is deleted drops its captions, and a search with no hit exits 1.

use std::path::Path;

use crate::util::{frameforge, root, Workspace};

fn caption_pipeline(ws: &Workspace) -> std::path::PathBuf {
    let body = format!(
        "stages:\n  - caption:\n      model: {}\n      every: 1s\n      beams: 1\n",
        root().join("models/captioner").display()
    );
    ws.pipeline(&body)
}

/// `frameforge search OUT WORDS --json`: the hits and the exit code.
fn search(out: &Path, words: &str) -> (Vec<serde_json::Value>, Option<i32>) {
    let output = frameforge()
        .args(["search", "--json", "--limit", "100"])
        .arg(out)
        .args(words.split(' '))
        .output()
        .unwrap();
    let hits = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (hits, output.status.code())
}

/// Every caption the run wrote, as (input, start, end, text), from `captions.jsonl`.
fn written_captions(ws: &Workspace) -> Vec<(String, f64, f64, String)> {
    std::fs::read_to_string(ws.path("out/captions.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let source = v["source"].as_str().unwrap();
            let name = Path::new(source)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            (
                name,
                v["start"].as_f64().unwrap_or(0.0),
                v["end"].as_f64().unwrap_or(0.0),
                v["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(word))
}

#[test]
fn search_finds_every_caption_with_the_word_with_its_file_and_times() {
    let ws = Workspace::new();
    ws.input(&[
        ("caption/shapes.mkv", "shapes.mkv"),
        ("caption/stills/purple_star.png", "purple_star.png"),
        (
            "caption/stills/blurry_green_square.png",
            "blurry_green_square.png",
        ),
        ("caption/stills/bw_cross_star.png", "bw_cross_star.png"),
    ]);
    let pipeline = caption_pipeline(&ws);
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let written = written_captions(&ws);
    for word in ["star", "background"] {
        let expected: Vec<_> = written.iter().filter(|c| has_word(&c.3, word)).collect();
        assert!(!expected.is_empty(), "no caption with {word}: {written:?}");
        let (hits, code) = search(&ws.path("out"), word);
        assert_eq!(code, Some(0));
        assert_eq!(
            hits.len(),
            expected.len(),
            "{word}: {hits:#?} vs {expected:?}"
        );
        for (name, start, end, text) in expected {
            let found = hits.iter().any(|h| {
                h["input"].as_str() == Some(name.as_str())
                    && (h["start"].as_f64().unwrap() - start).abs() < 1e-6
                    && (h["end"].as_f64().unwrap() - end).abs() < 1e-6
                    && h["caption"].as_str() == Some(text.as_str())
            });
            assert!(found, "{name} {start}–{end} `{text}` not among {hits:#?}");
        }
    }
    // Plain text prints the file, the time range of a video's caption, and the caption.
    let output = frameforge()
        .args(["search"])
        .arg(ws.path("out"))
        .arg("star")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.lines().all(|l| l.contains("star")), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("purple_star.png  ")),
        "{text}"
    );
}

#[test]
fn a_rerun_after_an_input_is_deleted_drops_its_captions_and_no_hit_exits_1() {
    let ws = Workspace::new();
    ws.input(&[
        ("caption/stills/purple_star.png", "purple_star.png"),
        ("caption/stills/bw_cross_star.png", "bw_cross_star.png"),
    ]);
    let pipeline = caption_pipeline(&ws);
    assert_eq!(ws.run(&pipeline, &[]).code, Some(0));
    let inputs = |hits: &[serde_json::Value]| {
        let mut names: Vec<String> = hits
            .iter()
            .map(|h| h["input"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let (hits, _) = search(&ws.path("out"), "star");
    assert_eq!(inputs(&hits), ["bw_cross_star.png", "purple_star.png"]);
    std::fs::remove_file(ws.path("in/purple_star.png")).unwrap();
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let (hits, _) = search(&ws.path("out"), "star");
    assert_eq!(inputs(&hits), ["bw_cross_star.png"]);
    let (hits, code) = search(&ws.path("out"), "zeppelin");
    assert!(hits.is_empty());
    assert_eq!(code, Some(1));
}
