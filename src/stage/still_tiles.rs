//! One still image restored by several pool instances at once: the tiles of each stage
//! are shared out among them, so a lone large photo uses every core (or every GPU
//! session) instead of the one instance a frame of a video gets.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use image::{ImageBuffer, Pixel};

use crate::media::image_io::Colour;
use crate::model::tile::{RgbImageOf, Sample, TileLayout};
use crate::model::tile_run::{place_run, tile_runs};

use super::{StageError, StagePool};

/// Runs every stage of `pool`'s plan on `colour`, each stage's runs of tiles spread over
/// up to the pool's capacity of instances. The result equals running one instance on the
/// whole image: every tile is computed alone either way.
///
/// # Errors
/// An instance cannot be created, or a stage fails on a tile (the first failure).
pub fn restore_still(pool: &StagePool, colour: Colour) -> Result<Colour, StageError> {
    let steps: Vec<(TileLayout, u32)> =
        pool.with(|stages| stages.iter().map(|s| (s.layout(), s.scale())).collect())?;
    let mut colour = colour;
    for (index, &(layout, scale)) in steps.iter().enumerate() {
        let step = Step {
            index,
            layout,
            scale,
        };
        colour = match colour {
            Colour::Eight(image) => Colour::Eight(run_step(pool, step, &image)?),
            Colour::Sixteen(image) => Colour::Sixteen(run_step(pool, step, &image)?),
        };
    }
    Ok(colour)
}

/// One stage of the plan: its position and how it tiles and scales.
#[derive(Clone, Copy)]
struct Step {
    index: usize,
    layout: TileLayout,
    scale: u32,
}

fn run_step<S>(
    pool: &StagePool,
    step: Step,
    image: &RgbImageOf<S>,
) -> Result<RgbImageOf<S>, StageError>
where
    S: Sample,
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let (width, height) = image.dimensions();
    let runs = tile_runs(width, height, step.layout);
    let workers = pool.capacity().min(runs.len()).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let output = Mutex::new(ImageBuffer::new(width * step.scale, height * step.scale));
    let work = || -> Result<(), StageError> {
        pool.with(|stages| {
            let stage = &mut stages[step.index];
            while !failed.load(Ordering::Relaxed) {
                let Some(run) = runs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                match stage.restore_run(&[image], run) {
                    Ok(result) => {
                        let mut output = output.lock().unwrap_or_else(PoisonError::into_inner);
                        place_run(&result, std::slice::from_mut(&mut *output), run, step.scale);
                    }
                    Err(error) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(error);
                    }
                }
            }
            Ok(())
        })?
    };
    let results: Vec<Result<(), StageError>> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mine = work();
        let mut results: Vec<_> = helpers
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        results.push(mine);
        results
    });
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(output.into_inner().unwrap_or_else(PoisonError::into_inner))
}
