//! Stages: the work done on every frame. `filter` stages run inside ffmpeg's filter graph
//! on the decode side; `restore` stages run on RGB frames in the inference workers, one
//! [`FrameStage`] instance (and one model session) per worker.

pub mod caption;
pub mod frame;
pub mod plan;
pub mod pool;
pub mod restore;
pub mod still_tiles;

pub use plan::{StageError, StagePlan};
pub use pool::StagePool;

use image::RgbImage;
use ndarray::Array4;

use crate::media::image_io::Rgb16Image;
use crate::model::tile::{Tile, TileLayout};

/// A per-frame transformation of RGB images.
pub trait FrameStage: Send {
    /// Processes one 8-bit frame.
    ///
    /// # Errors
    /// The model fails on this frame.
    fn process(&mut self, frame: &RgbImage) -> Result<RgbImage, StageError>;

    /// The factor by which this stage enlarges frames.
    fn scale(&self) -> u32;

    /// How this stage cuts frames into tiles.
    fn layout(&self) -> TileLayout;

    /// Runs one tile of an 8-bit frame: the model's output for the tile's window, to be
    /// placed with [`crate::model::tile::place_tile`]. Lets several instances share the
    /// tiles of one large image.
    ///
    /// # Errors
    /// The model fails on this tile.
    fn restore_tile(&mut self, frame: &RgbImage, tile: Tile) -> Result<Array4<f32>, StageError>;

    /// [`FrameStage::restore_tile`] for a 16-bit still image.
    ///
    /// # Errors
    /// The model fails on this tile.
    fn restore_tile16(&mut self, frame: &Rgb16Image, tile: Tile)
        -> Result<Array4<f32>, StageError>;
}
