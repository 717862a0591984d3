//! Stages: the work done on every frame. `filter` stages run inside ffmpeg's filter graph
//! on the decode side; `restore` stages run on RGB frames in the inference workers, one
//! [`FrameStage`] instance (and one model session) per worker.

pub mod caption;
pub mod plan;
pub mod pool;
pub mod restore;

pub use plan::{StageError, StagePlan};
pub use pool::StagePool;

use image::RgbImage;

use crate::media::image_io::Rgb16Image;

/// A per-frame transformation of RGB images.
pub trait FrameStage: Send {
    /// Processes one 8-bit frame.
    ///
    /// # Errors
    /// The model fails on this frame.
    fn process(&mut self, frame: &RgbImage) -> Result<RgbImage, StageError>;

    /// Processes one 16-bit still image.
    ///
    /// # Errors
    /// The model fails on this image.
    fn process16(&mut self, frame: &Rgb16Image) -> Result<Rgb16Image, StageError>;

    /// The factor by which this stage enlarges frames.
    fn scale(&self) -> u32;
}
