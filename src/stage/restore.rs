//! The `restore` stage: a GAN restoration model run tile by tile.

use image::RgbImage;
use ndarray::Array4;

use crate::media::image_io::Rgb16Image;
use crate::model::restore_model::{RestoreModel, RestoreModelError};
use crate::model::tile::{restore_tile, restore_tiled, RgbImageOf, Sample, Tile, TileLayout};

use super::{FrameStage, StageError};

/// A restoration model and how frames are tiled for it.
pub struct RestoreStage {
    model: RestoreModel,
    layout: TileLayout,
}

impl RestoreStage {
    /// Wraps a loaded model.
    pub fn new(model: RestoreModel, layout: TileLayout) -> Self {
        Self { model, layout }
    }
}

impl RestoreStage {
    fn run<S: Sample>(&mut self, frame: &RgbImageOf<S>) -> Result<RgbImageOf<S>, StageError>
    where
        image::Rgb<S>: image::Pixel<Subpixel = S>,
    {
        let scale = self.model.scale();
        let shape_error = self.shape_error();
        let model = &mut self.model;
        Ok(restore_tiled(
            frame,
            scale,
            self.layout,
            |batch| model.infer(batch),
            shape_error,
        )?)
    }

    fn tile<S: Sample>(
        &mut self,
        frame: &RgbImageOf<S>,
        tile: Tile,
    ) -> Result<Array4<f32>, StageError>
    where
        image::Rgb<S>: image::Pixel<Subpixel = S>,
    {
        let scale = self.model.scale();
        let shape_error = self.shape_error();
        let model = &mut self.model;
        Ok(restore_tile(
            frame,
            tile,
            scale,
            |batch| model.infer(batch),
            shape_error,
        )?)
    }

    /// A model output of the wrong shape, reported as this model's failure.
    fn shape_error(&self) -> impl Fn(String) -> RestoreModelError {
        let path = self.model.path().display().to_string();
        move |message| RestoreModelError::Run {
            path: path.clone(),
            message,
        }
    }
}

impl FrameStage for RestoreStage {
    fn process(&mut self, frame: &RgbImage) -> Result<RgbImage, StageError> {
        self.run(frame)
    }

    fn scale(&self) -> u32 {
        self.model.scale()
    }

    fn layout(&self) -> TileLayout {
        self.layout
    }

    fn restore_tile(&mut self, frame: &RgbImage, tile: Tile) -> Result<Array4<f32>, StageError> {
        self.tile(frame, tile)
    }

    fn restore_tile16(
        &mut self,
        frame: &Rgb16Image,
        tile: Tile,
    ) -> Result<Array4<f32>, StageError> {
        self.tile(frame, tile)
    }
}
