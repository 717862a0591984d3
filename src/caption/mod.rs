//! Captioning: the model folder (its configuration and tokenizer, its graphs opened
//! through `model`), image preprocessing, token generation (greedy and beam search with
//! a key/value cache), and the caption files written for every video and image.

mod beam_search;
pub mod card;
pub mod configs;
pub mod cues;
pub mod folder;
pub mod generate;
pub mod index;
pub mod model;
pub mod pil_resize;
pub mod preprocess;
pub mod sampler;
mod scores;
pub mod writers;

use std::path::Path;

/// A problem with a captioning model folder or with running it.
#[derive(Debug, thiserror::Error)]
pub enum CaptionModelError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error(transparent)]
    Graph(#[from] crate::model::caption_graphs::CaptionGraphError),
    #[error("captioning model {folder}: {message}")]
    Run { folder: String, message: String },
}

impl CaptionModelError {
    /// A problem with one file of the folder.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Self::File {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}
