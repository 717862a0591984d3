//! The run report: `report.json` (every item with status, error and numbers) and
//! `report.html` (the same, failures first, with before/after crops), both written
//! atomically into the output directory. A shard writes `report-I-of-N.*`, so copies
//! running side by side into one output never overwrite each other's report.
//!
//! The report describes the output directory, not only the run: each item's last result
//! (kept in the journal) with the run that made it, this run's work first
//! (`history.rs`).

mod detail;
pub mod history;
pub mod html;
mod html_row;
pub mod json;
mod links;
pub mod run_id;
pub mod stored;
pub mod summary;
pub mod thumbnail;

pub use summary::FileSummary;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How an item ended, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Done,
    Skipped,
    Failed,
    Interrupted,
    /// A dry run found it to do.
    #[serde(rename = "would_process")]
    WouldProcess,
}

/// One input file in the report: its last result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemReport {
    /// The input's path below the input root, as the journal keys it.
    #[serde(skip)]
    pub key: String,
    pub input: PathBuf,
    pub outputs: Vec<PathBuf>,
    pub status: ItemStatus,
    /// The error and its causes, outermost first (empty unless failed or interrupted).
    /// Always present, like every other field a program reads, so readers need not
    /// guess what a missing key means.
    pub error: Vec<String>,
    /// Why an item was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub frames: u64,
    /// Of `frames`, those an earlier run had restored, taken from its checkpoints.
    pub resumed_frames: u64,
    pub seconds: f64,
    /// Frames restored by this run per second.
    pub fps: f64,
    /// Where inference ran (`null` for an item that was not processed).
    pub device: Option<String>,
    /// The captions this run made for the item (seconds from its first frame; 0 to 0
    /// for an image).
    pub captions: Vec<CaptionLine>,
    /// What the run noticed about the item but did not fail for.
    pub warnings: Vec<String>,
    /// The restoration models this run made the item's outputs with (file and sha256),
    /// in stage order; empty for an item this run did not make.
    pub models: Vec<ModelRecord>,
    /// The run that made this entry (see `run_id.rs`): this run, or the earlier one
    /// whose result still stands because this run had nothing to do for the item.
    #[serde(default)]
    pub run: String,
    /// When the entry was made (UTC, ISO 8601).
    #[serde(default)]
    pub at: String,
    /// The input is no longer among the pipeline's inputs (deleted, moved or excluded)
    /// while outputs of it are still in the output directory.
    #[serde(default)]
    pub input_gone: bool,
    /// Before/after crops (PNG), for the HTML report only.
    #[serde(skip)]
    pub preview: Option<thumbnail::Preview>,
}

/// A restoration model as the report names it: the file and its contents' sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub file: PathBuf,
    pub sha256: String,
}

/// One caption of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionLine {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

impl ItemReport {
    /// An item about `input` that has not got anywhere yet: failed, nothing written.
    #[must_use]
    pub fn failed(input: &Path) -> Self {
        Self {
            key: String::new(),
            input: input.to_path_buf(),
            outputs: Vec::new(),
            status: ItemStatus::Failed,
            error: Vec::new(),
            reason: None,
            frames: 0,
            resumed_frames: 0,
            seconds: 0.0,
            fps: 0.0,
            device: None,
            captions: Vec::new(),
            warnings: Vec::new(),
            models: Vec::new(),
            run: String::new(),
            at: String::new(),
            input_gone: false,
            preview: None,
        }
    }

    /// A finished item: what `summary` says, made in `seconds` on `device`.
    #[must_use]
    pub fn done(input: &Path, summary: FileSummary, seconds: f64, device: String) -> Self {
        let restored = summary.frames.saturating_sub(summary.resumed);
        Self {
            key: String::new(),
            input: input.to_path_buf(),
            outputs: summary.outputs,
            status: ItemStatus::Done,
            error: Vec::new(),
            reason: None,
            frames: summary.frames,
            resumed_frames: summary.resumed,
            seconds,
            fps: if seconds > 0.0 {
                restored as f64 / seconds
            } else {
                0.0
            },
            device: Some(device),
            captions: summary
                .captions
                .into_iter()
                .map(|cue| CaptionLine {
                    start: cue.start,
                    end: cue.end,
                    text: cue.text,
                })
                .collect(),
            warnings: summary.warnings,
            // The batch knows the models; the processor does not.
            models: Vec::new(),
            run: String::new(),
            at: String::new(),
            input_gone: false,
            preview: summary.preview,
        }
    }
}

/// The whole run, and what the output directory holds.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub pipeline: PathBuf,
    pub name: Option<String>,
    pub version: &'static str,
    /// This run's id; each item's `run` names the run that made its entry.
    pub run: String,
    pub started_unix: u64,
    pub seconds: f64,
    pub exit_code: u8,
    /// What a finished item went through, for the summary line: `restored`,
    /// `captioned` or `processed`.
    #[serde(skip)]
    pub done_verb: &'static str,
    /// What this run did: items it finished, skipped and failed.
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Items with warnings (counted among `done`).
    pub warned: usize,
    pub interrupted: bool,
    /// What `items` hold, by their last result, whichever run made it.
    pub totals: Totals,
    /// Every item's last result: this run's finished and failed items first (in the
    /// order they were found), then earlier results (newest first), then items whose
    /// input is gone.
    pub items: Vec<ItemReport>,
}

/// What one run did with its items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Items with warnings (counted among `done`).
    pub warned: usize,
}

impl RunCounts {
    /// Counts this run's own entries (before earlier results join them).
    #[must_use]
    pub fn of(items: &[ItemReport]) -> Self {
        let count = |status| items.iter().filter(|i| i.status == status).count();
        Self {
            done: count(ItemStatus::Done),
            skipped: count(ItemStatus::Skipped),
            failed: count(ItemStatus::Failed),
            warned: items.iter().filter(|i| !i.warnings.is_empty()).count(),
        }
    }
}

/// The items of a report counted by their last result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub items: usize,
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    pub interrupted: usize,
    /// Of those, items whose input is gone.
    pub input_gone: usize,
}

impl Totals {
    /// Counts `items`.
    #[must_use]
    pub fn of(items: &[ItemReport]) -> Self {
        let count = |status| items.iter().filter(|i| i.status == status).count();
        Self {
            items: items.len(),
            done: count(ItemStatus::Done),
            skipped: count(ItemStatus::Skipped),
            failed: count(ItemStatus::Failed),
            interrupted: count(ItemStatus::Interrupted),
            input_gone: items.iter().filter(|i| i.input_gone).count(),
        }
    }
}

/// Errors while writing the report.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct ReportError {
    path: String,
    #[source]
    source: std::io::Error,
}

/// The word for a finished item of a pipeline with these stages: a caption-only
/// archive run says `captioned`, not `restored`.
#[must_use]
pub fn done_verb(stages: &[crate::config::StageSpec]) -> &'static str {
    use crate::config::StageSpec;
    if stages.iter().any(|s| matches!(s, StageSpec::Restore(_))) {
        "restored"
    } else if stages.iter().all(|s| matches!(s, StageSpec::Caption(_))) && !stages.is_empty() {
        "captioned"
    } else {
        "processed"
    }
}

/// The report's file name without extension: `report`, or `report-I-of-N` for a shard.
pub fn report_stem(shard: Option<(u32, u32)>) -> String {
    match shard {
        None => "report".into(),
        Some((index, count)) => format!("report-{index}-of-{count}"),
    }
}

/// Writes `STEM.json` and `STEM.html` into `dir`, each under a temporary name first.
///
/// # Errors
/// A file cannot be written or renamed.
pub fn write_reports(report: &RunReport, dir: &Path, stem: &str) -> Result<(), ReportError> {
    write_atomically(
        &dir.join(format!("{stem}.json")),
        json::render(report).as_bytes(),
    )?;
    write_atomically(
        &dir.join(format!("{stem}.html")),
        html::render(report, dir).as_bytes(),
    )
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    crate::output_file::write_atomically(path, bytes).map_err(|e| ReportError {
        path: path.display().to_string(),
        source: e.source,
    })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on any unexpected error"
    )]

    use super::done_verb;
    use crate::config::StageSpec;

    fn stages(yaml: &str) -> Vec<StageSpec> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn the_summary_names_what_the_pipeline_did() {
        let restore = "- !restore {model: m.onnx}\n";
        let caption = "- !caption {model: captioner}\n";
        let filter = "- !filter yadif\n";
        assert_eq!(done_verb(&stages(restore)), "restored");
        assert_eq!(
            done_verb(&stages(&format!("{filter}{restore}{caption}"))),
            "restored"
        );
        assert_eq!(done_verb(&stages(caption)), "captioned");
        assert_eq!(
            done_verb(&stages(&format!("{filter}{caption}"))),
            "processed"
        );
        assert_eq!(done_verb(&stages(filter)), "processed");
    }
}
