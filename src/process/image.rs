//! Restoring one still image: decode, run the stages on its colour, resize its alpha,
//! write a PNG.

use std::path::Path;

use crate::media::image_io::{join, read_still, resize_alpha, write_png, Colour, Still};
use crate::stage::FrameStage;

use super::output_file::PendingOutput;
use super::ProcessError;

/// Restores `input` into the PNG `target` with `stages`.
///
/// # Errors
/// The image cannot be read, a stage fails, or the result cannot be written.
pub fn restore_image(
    input: &Path,
    target: &Path,
    stages: &mut [Box<dyn FrameStage>],
) -> Result<(u32, u32), ProcessError> {
    let still = read_still(input)?;
    let mut colour = still.colour;
    for stage in stages.iter_mut() {
        colour = match colour {
            Colour::Eight(image) => Colour::Eight(stage.process(&image)?),
            Colour::Sixteen(image) => Colour::Sixteen(stage.process16(&image)?),
        };
    }
    let (width, height) = match &colour {
        Colour::Eight(i) => i.dimensions(),
        Colour::Sixteen(i) => i.dimensions(),
    };
    let alpha = still.alpha.as_ref().map(|a| resize_alpha(a, width, height));
    let restored = join(Still {
        colour,
        alpha,
        grayscale: still.grayscale,
    });
    let pending = PendingOutput::new(target)?;
    write_png(&restored, pending.temp_path())?;
    pending.commit()?;
    Ok((width, height))
}
