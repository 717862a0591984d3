//! Video frames through every stage of one pool instance, at their own depth: 8-bit
//! frames as 8-bit, 16-bit frames (from a 10- or 12-bit source) at 16 bits, so their
//! precision is not cut to 8 bits on the way. Several frames of a video can go through
//! together, so that with `tile_batch` their tiles (whole frames, with `tile: 0`) share
//! model runs.

use crate::media::image_io::{Colour, Rgb16Image};
use image::RgbImage;

use super::{RestoreStage, StageError};

/// Runs `stages` in order on `frame`.
fn process_frame(stages: &mut [RestoreStage], frame: Colour) -> Result<Colour, StageError> {
    let mut restored = process_frames(stages, vec![frame])?;
    Ok(restored.pop().unwrap_or(Colour::Eight(RgbImage::new(0, 0))))
}

/// Runs `stages` in order on `frames` (of one video: one size and depth), together; the
/// restored frames in the same order. Frames of mixed depths go one by one.
///
/// # Errors
/// A stage fails on one of the frames (the first failure).
pub fn process_frames(
    stages: &mut [RestoreStage],
    frames: Vec<Colour>,
) -> Result<Vec<Colour>, StageError> {
    match by_depth(frames) {
        Depth::Eight(mut images) => {
            for stage in stages.iter_mut() {
                let sources: Vec<&RgbImage> = images.iter().collect();
                images = stage.restore_frames(&sources)?;
            }
            Ok(images.into_iter().map(Colour::Eight).collect())
        }
        Depth::Sixteen(mut images) => {
            for stage in stages.iter_mut() {
                let sources: Vec<&Rgb16Image> = images.iter().collect();
                images = stage.restore_frames(&sources)?;
            }
            Ok(images.into_iter().map(Colour::Sixteen).collect())
        }
        Depth::Mixed(frames) => frames
            .into_iter()
            .map(|frame| process_frame(stages, frame))
            .collect(),
    }
}

/// Frames sorted by sample depth.
enum Depth {
    Eight(Vec<RgbImage>),
    Sixteen(Vec<Rgb16Image>),
    Mixed(Vec<Colour>),
}

fn by_depth(frames: Vec<Colour>) -> Depth {
    if frames.iter().all(|f| matches!(f, Colour::Eight(_))) {
        Depth::Eight(
            frames
                .into_iter()
                .filter_map(|f| match f {
                    Colour::Eight(image) => Some(image),
                    Colour::Sixteen(_) => None,
                })
                .collect(),
        )
    } else if frames.iter().all(|f| matches!(f, Colour::Sixteen(_))) {
        Depth::Sixteen(
            frames
                .into_iter()
                .filter_map(|f| match f {
                    Colour::Sixteen(image) => Some(image),
                    Colour::Eight(_) => None,
                })
                .collect(),
        )
    } else {
        Depth::Mixed(frames)
    }
}
