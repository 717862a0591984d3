//! The run's `captions.jsonl`: one JSON line per caption of every input that has
//! captions (this run's and earlier runs'), rebuilt from the `NAME.captions.json` files so
//! a rerun that skips finished files still indexes them.

use std::path::{Path, PathBuf};

/// Lines for the index from the caption documents at `documents` (missing ones are
/// skipped: their inputs failed or were never captioned).
pub fn index_lines(documents: &[PathBuf]) -> String {
    let mut out = String::new();
    for path in documents {
        let Some(document) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        else {
            continue;
        };
        let source = document["source"].clone();
        for cue in document["cues"].as_array().into_iter().flatten() {
            let line = serde_json::json!({
                "source": source,
                "captions": path,
                "start": cue["start"],
                "end": cue["end"],
                "text": cue["text"],
                "mean_log_prob": cue["mean_log_prob"],
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    out
}

/// Writes `captions.jsonl` in `dir` under a temporary name first.
///
/// # Errors
/// The file cannot be written.
pub fn write_index(dir: &Path, documents: &[PathBuf]) -> std::io::Result<PathBuf> {
    let path = dir.join("captions.jsonl");
    crate::output_file::write_atomically(&path, index_lines(documents).as_bytes())
        .map_err(|e| e.source)?;
    Ok(path)
}
