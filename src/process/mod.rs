//! Processing one input file into its outputs: videos through the bounded
//! decode → infer → encode pipeline, stills through the image path.

mod after_restore;
pub mod caption_files;
pub mod checkpoints;
pub mod error;
pub mod image;
pub mod output_encoding;
pub mod settings;
pub mod timing;
pub mod video;
mod video_captions;
pub mod video_sink;
mod video_warnings;
mod video_writer;
pub mod warnings;
pub mod xmp_output;

pub use error::ProcessError;
pub use settings::ProcessSettings;

pub use crate::file_progress::{FileProgress, NoProgress};
