//! `frameforge speed`: how fast a pipeline's restoration runs on this machine, before an
//! archive is given to it. Synthetic frames of the size asked for go through the
//! pipeline's restore stages with its device, float width, tiles and sessions, and
//! nothing else: no decoding, filtering or encoding, so the number is the ceiling the
//! models set, to compare with a run's frames per second (or an encoder's alone). Each
//! session's first frame is run before the clock starts: it pays for cuDNN's kernel
//! search or TensorRT's engine, once per session and shape.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use image::RgbImage;

use crate::cli::SpeedArgs;
use crate::media::image_io::Colour;
use crate::stage::frame::process_frames;
use crate::stage::{RestoreStage, StageError, StagePlan};

use super::{available_threads, exit, inference_sessions, load};

/// A session's stages after its first frame, and the size that frame came out at.
type Warmed = Result<(Vec<RestoreStage>, (u32, u32)), StageError>;

/// What a timing found.
struct Timing {
    frames: usize,
    warm_up: f64,
    seconds: f64,
    output: (u32, u32),
}

/// Runs `frameforge speed`.
pub fn speed(args: &SpeedArgs) -> u8 {
    let (loaded, plan) = match load(&args.pipeline, args.threads) {
        Ok(loaded) => loaded,
        Err(stop) => return stop.report(args.json),
    };
    if !plan.has_frame_stages() {
        eprintln!(
            "{}: no restore stage to time (`speed` runs restoration models only)",
            loaded.file.display()
        );
        return exit::CONFIG;
    }
    let threads = args
        .threads
        .or(loaded.pipeline.run.threads)
        .map_or_else(available_threads, |t| t as usize);
    let sessions = inference_sessions(&plan, &loaded.pipeline, threads);
    let device = plan
        .device()
        .map_or_else(|| "none".to_string(), |d| d.to_string());
    let (width, height) = args.size;
    let timing = match time_frames(&plan, sessions, (width, height), args.frames as usize) {
        Ok(timing) => timing,
        Err(error) => {
            eprintln!("{}: {error}", loaded.file.display());
            return exit::SOME_FAILED;
        }
    };
    let fps = timing.frames as f64 / timing.seconds.max(1e-9);
    let megapixels = fps * f64::from(width) * f64::from(height) / 1e6;
    if args.json {
        let summary = serde_json::json!({
            "pipeline": loaded.file.display().to_string(),
            "device": device,
            "sessions": sessions,
            "input": [width, height],
            "output": [timing.output.0, timing.output.1],
            "frames": timing.frames,
            "seconds": timing.seconds,
            "frames_per_second": fps,
            "input_megapixels_per_second": megapixels,
            "warm_up_seconds": timing.warm_up,
        });
        println!("{summary}");
    } else {
        println!(
            "{}: {width}x{height} -> {}x{} on {device}, {sessions} session(s): {} frames in \
             {:.2} s, {fps:.1} frames/s ({megapixels:.1} Mpixel/s in); first frame of each \
             session {:.1} s (not counted)",
            loaded.file.display(),
            timing.output.0,
            timing.output.1,
            timing.frames,
            timing.seconds,
            timing.warm_up
        );
    }
    exit::OK
}

/// Restores `frames` synthetic frames of `size` with `sessions` instances of `plan` at
/// once, after one untimed frame each.
fn time_frames(
    plan: &StagePlan,
    sessions: usize,
    size: (u32, u32),
    frames: usize,
) -> Result<Timing, StageError> {
    let frame = synthetic_frame(size);
    // As a run's workers do, each session takes as many frames at once as fill its runs;
    // its first such batch, untimed, meets every run shape the timed ones will.
    let per_run = plan.frames_per_run(size.0, size.1);
    let warm_start = Instant::now();
    let warmed: Vec<Warmed> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..sessions)
            .map(|_| {
                scope.spawn(|| {
                    let mut stages = plan.instantiate()?;
                    let restored = restore(&mut stages, &frame, per_run)?;
                    Ok((stages, restored))
                })
            })
            .collect();
        handles.into_iter().map(join).collect()
    });
    let warm_up = warm_start.elapsed().as_secs_f64();
    let mut instances = Vec::new();
    let mut output = size;
    for result in warmed {
        let (stages, size) = result?;
        instances.push(stages);
        output = size;
    }
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let results: Vec<Result<(), StageError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = instances
            .iter_mut()
            .map(|stages| {
                let (next, frame) = (&next, &frame);
                scope.spawn(move || loop {
                    let first = next.fetch_add(per_run, Ordering::Relaxed);
                    if first >= frames {
                        return Ok(());
                    }
                    restore(stages, frame, per_run.min(frames - first))?;
                })
            })
            .collect();
        handles.into_iter().map(join).collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(Timing {
        frames,
        warm_up,
        seconds,
        output,
    })
}

/// `count` copies of `frame` through every stage together; the size they come out at.
fn restore(
    stages: &mut [RestoreStage],
    frame: &RgbImage,
    count: usize,
) -> Result<(u32, u32), StageError> {
    let restored = process_frames(stages, vec![Colour::Eight(frame.clone()); count])?;
    Ok(match restored.first() {
        Some(Colour::Eight(image)) => image.dimensions(),
        Some(Colour::Sixteen(image)) => image.dimensions(),
        None => (0, 0),
    })
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A frame with detail everywhere (gradients, edges and noise), so that no model takes a
/// shortcut on flat areas; the same for every run.
fn synthetic_frame((width, height): (u32, u32)) -> RgbImage {
    let mut state = 0x9E37_79B9_u32;
    RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 24) as u8;
        let stripe = if (x / 16 + y / 16) % 2 == 0 { 40 } else { 0 };
        image::Rgb([
            ((x * 255) / width.max(1)) as u8 / 2 + stripe + noise,
            ((y * 255) / height.max(1)) as u8 / 2 + noise,
            (((x + y) * 3) % 128) as u8 + stripe + noise,
        ])
    })
}
