//! The `restore` stage: a GAN restoration model run tile by tile.

use image::RgbImage;

use crate::media::image_io::Rgb16Image;
use crate::model::restore_model::{RestoreModel, RestoreModelError};
use crate::model::tile::{restore_tiled, TileLayout};

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

fn shape_error(message: String) -> RestoreModelError {
    RestoreModelError::Run {
        path: String::new(),
        message,
    }
}

impl FrameStage for RestoreStage {
    fn process(&mut self, frame: &RgbImage) -> Result<RgbImage, StageError> {
        let scale = self.model.scale();
        let model = &mut self.model;
        Ok(restore_tiled(
            frame,
            scale,
            self.layout,
            |batch| model.infer(batch),
            shape_error,
        )?)
    }

    fn process16(&mut self, frame: &Rgb16Image) -> Result<Rgb16Image, StageError> {
        let scale = self.model.scale();
        let model = &mut self.model;
        Ok(restore_tiled(
            frame,
            scale,
            self.layout,
            |batch| model.infer(batch),
            shape_error,
        )?)
    }

    fn scale(&self) -> u32 {
        self.model.scale()
    }
}
