//! The `restore` stage: a GAN restoration model run tile by tile.

use image::RgbImage;

use crate::media::image_io::Rgb16Image;
use crate::model::restore_model::{RestoreModel, RestoreModelError};
use crate::model::tile::{restore_tiled, RgbImageOf, Sample, TileLayout};

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
        let path = self.model.path().display().to_string();
        let model = &mut self.model;
        let shape_error = |message| RestoreModelError::Run {
            path: path.clone(),
            message,
        };
        Ok(restore_tiled(
            frame,
            scale,
            self.layout,
            |batch| model.infer(batch),
            shape_error,
        )?)
    }
}

impl FrameStage for RestoreStage {
    fn process(&mut self, frame: &RgbImage) -> Result<RgbImage, StageError> {
        self.run(frame)
    }

    fn process16(&mut self, frame: &Rgb16Image) -> Result<Rgb16Image, StageError> {
        self.run(frame)
    }

    fn scale(&self) -> u32 {
        self.model.scale()
    }
}
