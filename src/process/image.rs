//! Restoring one still image: decode, run the stages on its colour, resize its alpha,
//! write a PNG.

use std::path::Path;

use crate::media::image_io::{
    join, read_still, resize_alpha, write_png, Colour, Still, StillMetadata,
};
use crate::report::thumbnail::Preview;
use crate::report::FileSummary;
use crate::stage::still_tiles::restore_still;
use crate::stage::StagePool;

use crate::caption::cues::Cue;
use crate::stage::caption::{CaptionPool, CaptionSetup};

use super::caption_files::{caption_base, write_image_captions};
use super::settings::XmpSettings;
use super::warnings::Warnings;
use super::xmp_output::{write_xmp, Described};
use super::ProcessError;
use crate::output_file::PendingOutput;

/// Restores `input` into the PNG `target` with `stages`.
///
/// # Errors
/// The image cannot be read, a stage fails, or the result cannot be written.
pub fn restore_image(
    input: &Path,
    target: &Path,
    pool: &StagePool,
    captions: Option<&CaptionPool>,
    xmp: &XmpSettings<'_>,
) -> Result<FileSummary, ProcessError> {
    let still = read_still(input)?;
    let mut warnings = Warnings::new(input);
    if let Some(space) = &still.metadata.unfit_profile {
        warnings.add(format!(
            "its ICC profile describes {space} samples, not the {} written, so it is left \
             out and colours may shift",
            if still.grayscale { "gray" } else { "RGB" }
        ));
    }
    let before = preview_source(&still.colour);
    let colour = restore_still(pool, still.colour)?;
    let (width, height) = colour.dimensions();
    let alpha = still.alpha.as_ref().map(|a| resize_alpha(a, width, height));
    let restored = join(Still {
        colour,
        alpha,
        grayscale: still.grayscale,
        metadata: StillMetadata::default(),
    });
    let rgb = restored.to_rgb8();
    // `read_still` has already turned the picture by its EXIF orientation.
    let preview = Preview::new(&before, &rgb, 0.0);
    // Captioned first: the caption goes into the PNG's XMP.
    let cue = match (pool.plan().caption(), captions) {
        (Some(setup), Some(captioners)) => Some(caption(setup, captioners, &rgb)?),
        _ => None,
    };
    let mut outputs = Vec::new();
    let written = if pool.plan().writes_media() {
        let pending = PendingOutput::new(target)?;
        write_png(&restored, &still.metadata, pending.temp_path())?;
        Some(pending)
    } else {
        None
    };
    let described = Described {
        input,
        output: target,
        written: written.as_ref().map(PendingOutput::temp_path),
        caption: cue.as_ref().map(|c| c.text.as_str()),
    };
    let sidecar = write_xmp(&described, xmp, &mut warnings)?;
    if let Some(pending) = written {
        pending.commit()?;
        outputs.push(target.to_path_buf());
    }
    outputs.extend(sidecar);
    if let (Some(setup), Some(cue)) = (pool.plan().caption(), &cue) {
        outputs.extend(write_image_captions(
            &caption_base(target),
            input,
            &setup.model,
            cue,
        )?);
    }
    Ok(FileSummary {
        frames: 1,
        resumed: 0,
        width,
        height,
        damaged: 0,
        preview,
        outputs,
        captions: cue.into_iter().collect(),
        warnings: warnings.into_messages(),
    })
}

/// The image's caption as a cue without times: captioned together with the stills of
/// other files waiting at the same time.
fn caption(
    setup: &CaptionSetup,
    captioners: &CaptionPool,
    rgb: &image::RgbImage,
) -> Result<Cue, ProcessError> {
    let caption = captioners.caption_still(setup.prepare(rgb))?;
    Ok(Cue {
        start: 0.0,
        end: 0.0,
        text: caption.text,
        mean_log_prob: caption.mean_log_prob,
    })
}

fn preview_source(colour: &Colour) -> image::RgbImage {
    colour.to_eight().into_owned()
}
