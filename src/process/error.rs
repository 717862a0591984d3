//! Why one file could not be processed.

use crate::media::MediaError;
use crate::stage::StageError;

/// A failure of one file; its message is printed as `path: message`.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Caption(#[from] crate::caption::CaptionModelError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Checkpoint(#[from] super::checkpoints::CheckpointError),
    #[error(transparent)]
    Output(#[from] crate::output_file::OutputFileError),
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataError),
    #[error("a processing thread stopped unexpectedly")]
    ThreadPanicked,
    #[error("interrupted")]
    Interrupted,
}
