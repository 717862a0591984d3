//! The `restore` stage: a GAN restoration model run tile by tile.

use image::RgbImage;
use ndarray::Array4;

use crate::model::restore_model::{RestoreModel, RestoreModelError};
use crate::model::tile::{RgbImageOf, Sample, TileLayout};
use crate::model::tile_run::{restore_frames, restore_run, FrameTile};

use super::StageError;

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

    /// The factor by which this stage enlarges frames.
    pub fn scale(&self) -> u32 {
        self.model.scale()
    }

    /// How this stage cuts frames into tiles.
    pub fn layout(&self) -> TileLayout {
        self.layout
    }

    /// Restores one 8-bit frame.
    ///
    /// # Errors
    /// The model fails on this frame.
    pub fn process(&mut self, frame: &RgbImage) -> Result<RgbImage, StageError> {
        let mut restored = self.restore_frames(&[frame])?;
        Ok(restored.pop().unwrap_or_default())
    }

    /// Restores several frames of one size (8 or 16 bits a sample) at once, their tiles
    /// of one window shape run together as `tile_batch` allows.
    ///
    /// # Errors
    /// The model fails on these frames.
    pub fn restore_frames<S: Sample>(
        &mut self,
        frames: &[&RgbImageOf<S>],
    ) -> Result<Vec<RgbImageOf<S>>, StageError>
    where
        image::Rgb<S>: image::Pixel<Subpixel = S>,
    {
        let scale = self.model.scale();
        let shape_error = self.shape_error();
        let model = &mut self.model;
        Ok(restore_frames(
            frames,
            scale,
            self.layout,
            |batch| model.infer(batch),
            shape_error,
        )?)
    }

    /// Runs one run of tiles (of one window shape, of the frames in `frames`): the
    /// model's output for each tile's window, to be placed with
    /// [`crate::model::tile_run::place_run`]. Lets several instances share the tiles of
    /// one large image.
    ///
    /// # Errors
    /// The model fails on these tiles.
    pub fn restore_run<S: Sample>(
        &mut self,
        frames: &[&RgbImageOf<S>],
        run: &[FrameTile],
    ) -> Result<Array4<f32>, StageError>
    where
        image::Rgb<S>: image::Pixel<Subpixel = S>,
    {
        let scale = self.model.scale();
        let shape_error = self.shape_error();
        let model = &mut self.model;
        Ok(restore_run(
            frames,
            run,
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
