//! Processing one input file into its outputs: videos through the bounded
//! decode → infer → encode pipeline, stills through the image path.

pub mod error;
pub mod image;
pub mod output_file;
pub mod video;

pub use error::ProcessError;
