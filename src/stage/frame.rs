//! One video frame through every stage of one pool instance: an 8-bit frame as each
//! stage processes it, a 16-bit frame (from a 10- or 12-bit source) tile by tile at 16
//! bits, so its precision is not cut to 8 bits on the way.

use image::ImageBuffer;

use crate::media::image_io::{Colour, Rgb16Image};
use crate::model::tile_run::{place_run, tile_runs};

use super::{RestoreStage, StageError};

/// Runs `stages` in order on `frame`.
///
/// # Errors
/// A stage fails on the frame (the first failure).
pub fn process_frame(stages: &mut [RestoreStage], frame: Colour) -> Result<Colour, StageError> {
    let mut frame = frame;
    for stage in stages.iter_mut() {
        frame = match frame {
            Colour::Eight(image) => Colour::Eight(stage.process(&image)?),
            Colour::Sixteen(image) => Colour::Sixteen(process16(stage, &image)?),
        };
    }
    Ok(frame)
}

/// What [`RestoreStage::process`] does, on 16-bit samples: the same runs of tiles, each
/// tile computed alone and placed the same way.
fn process16(stage: &mut RestoreStage, image: &Rgb16Image) -> Result<Rgb16Image, StageError> {
    let (width, height) = image.dimensions();
    let scale = stage.scale();
    let mut output = ImageBuffer::new(width * scale, height * scale);
    for run in tile_runs(width, height, stage.layout()) {
        let result = stage.restore_run(image, &run)?;
        place_run(&result, &mut output, &run, scale);
    }
    Ok(output)
}
