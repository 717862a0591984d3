//! Processing one input file into its outputs: videos through the bounded
//! decode → infer → encode pipeline, stills through the image path.

pub mod caption_files;
pub mod checkpoints;
pub mod error;
pub mod image;
pub mod output_file;
pub mod timing;
pub mod video;
pub mod video_sink;
mod video_warnings;
pub mod warnings;

pub use error::ProcessError;

/// Where a running file reports how far it got.
pub trait FileProgress: Sync {
    /// The number of frames expected (0 when unknown).
    fn length(&self, frames: u64);
    /// `frames` more frames are written.
    fn advance(&self, frames: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl FileProgress for NoProgress {
    fn length(&self, _frames: u64) {}
    fn advance(&self, _frames: u64) {}
}
