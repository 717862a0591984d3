//! What processing one file came to. The processor fills it in once; the batch takes
//! the journal's facts from it (outputs, damage) and hands it to the report, so the same
//! numbers reach the terminal, the journal and `report.json` without being copied field
//! by field on the way.

use std::path::PathBuf;

use crate::caption::cues::Cue;

use super::thumbnail::Preview;

/// A file that was processed to the end.
#[derive(Debug, Clone, Default)]
pub struct FileSummary {
    /// Frames written (1 for an image).
    pub frames: u64,
    /// Of `frames`, those an earlier run had restored, taken from its checkpoints.
    pub resumed: u64,
    /// Size of the restored frames.
    pub width: u32,
    pub height: u32,
    /// Frames that could not be decoded and were left out or repeated.
    pub damaged: u64,
    /// Before/after thumbnails of the first frame.
    pub preview: Option<Preview>,
    /// Every file written: the media output first (when the pipeline writes media), then
    /// caption files.
    pub outputs: Vec<PathBuf>,
    /// The caption cues (times from the first frame, as in the caption files).
    pub captions: Vec<Cue>,
    /// What the run noticed but did not fail for.
    pub warnings: Vec<String>,
}
