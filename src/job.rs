//! A unit of work (one input file and where its output goes) and how it ended.

use std::path::PathBuf;

use crate::config::MediaKind;

/// One input file to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The file to read.
    pub input: PathBuf,
    /// Its path below `input.path` (the file name when the input is a single file).
    pub relative: PathBuf,
    /// The final output path.
    pub output: PathBuf,
    pub kind: MediaKind,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Done {
        frames: u64,
        seconds: f64,
        width: u32,
        height: u32,
    },
    Skipped {
        reason: String,
    },
    Failed {
        /// The error with its causes, joined by `: `.
        error: String,
    },
}

impl JobOutcome {
    /// A failure from any error, keeping its cause chain in the message.
    pub fn failed(error: &(dyn std::error::Error + 'static)) -> Self {
        JobOutcome::Failed {
            error: error_chain(error),
        }
    }
}

/// `error: cause: cause…`, skipping causes whose text the outer message already holds.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
