//! Captions per second of the shipped captioner on the held-out reference images:
//! split vs merged decoder, greedy vs beam search, one session with N intra-op threads;
//! frame by frame (batch 1) and as the pipeline runs them (`--batch`, default 8: one
//! encoder run and one greedy search for the whole batch); and as a run uses its thread
//! budget: N captioners of one thread each, stills frame by frame, videos in batches.
//!
//! `cargo bench --bench caption_speed -- [--threads N] [--rounds R] [--batch B]`

use std::path::PathBuf;
use std::time::Instant;

use frameforge::caption::generate::{generate, greedy_batch, Settings};
use frameforge::caption::model::CaptionModel;
use frameforge::caption::preprocess::pixel_values;
use frameforge::config::Device;
use frameforge::model::session::SessionConfig;

type Error = Box<dyn std::error::Error>;

/// The command line's settings.
struct Options {
    threads: usize,
    rounds: usize,
    batch: usize,
}

fn main() -> Result<(), Error> {
    let options = options();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let images = heldout_images(&root)?;
    // The same model with only the merged decoder, for the comparison.
    let merged_dir = tempfile::tempdir()?;
    copy_without_split_decoder(&root.join("models/captioner"), merged_dir.path())?;
    println!(
        "{} images × {} rounds, {} intra-op thread(s)",
        images.len(),
        options.rounds,
        options.threads
    );
    for (label, folder) in [
        ("split", root.join("models/captioner")),
        ("merged", merged_dir.path().to_path_buf()),
    ] {
        one_session(label, &folder, &images, &options)?;
    }
    // As a run captions: each still is its own job and a video's batches go to free
    // captioners, so the thread budget runs as that many single-threaded captioners.
    let Options {
        threads,
        rounds,
        batch,
    } = options;
    for size in [1, batch] {
        let rate = side_by_side(
            &root.join("models/captioner"),
            &images,
            threads,
            rounds,
            size,
        )?;
        println!(
            "  split  decoder, beams 1, batch {size}, {threads} captioners x 1 thread: {rate:.1} captions/s"
        );
    }
    Ok(())
}

fn options() -> Options {
    let mut options = Options {
        threads: 2,
        rounds: 5,
        batch: 8,
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        match arg.as_str() {
            "--threads" => options.threads = value,
            "--rounds" => options.rounds = value,
            "--batch" => options.batch = value.max(1),
            _ => {}
        }
    }
    options
}

/// The held-out reference images, in name order.
fn heldout_images(root: &std::path::Path) -> Result<Vec<image::RgbImage>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures/caption/heldout"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files
        .iter()
        .map(|f| image::open(f).map(|i| i.to_rgb8()))
        .collect::<Result<_, _>>()?)
}

/// The captioner folder less its split decoder graphs, so the merged one is used.
fn copy_without_split_decoder(from: &std::path::Path, to: &std::path::Path) -> Result<(), Error> {
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name != "decoder_model.onnx" && name != "decoder_with_past_model.onnx" {
            std::fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}

/// One session with the options' intra-op threads: greedy one by one, greedy in
/// batches, beam search one by one.
fn one_session(
    label: &str,
    folder: &std::path::Path,
    images: &[image::RgbImage],
    options: &Options,
) -> Result<(), Error> {
    let config = SessionConfig {
        device: Device::Cpu,
        precision: frameforge::config::Precision::Fp32,
        intra_threads: options.threads,
    };
    let mut model = CaptionModel::load(folder, "", config)?;
    for (beams, size) in [(1usize, 1usize), (1, options.batch), (3, 1)] {
        let settings = Settings::model_defaults(&model.generation, beams);
        let mut count = 0;
        let started = Instant::now();
        for _ in 0..options.rounds {
            for chunk in images.chunks(size) {
                count += caption_chunk(&mut model, chunk, &settings)?;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "  {label:6} decoder, beams {beams}, batch {size}: {:.1} captions/s",
            count as f64 / seconds
        );
    }
    Ok(())
}

/// Captions `chunk` (one batched greedy search, or one search for a single image) and
/// says how many captions were made.
fn caption_chunk(
    model: &mut CaptionModel,
    chunk: &[image::RgbImage],
    settings: &Settings,
) -> Result<usize, Error> {
    let refs: Vec<&image::RgbImage> = chunk.iter().collect();
    let encoded = model.encode(pixel_values(&refs, &model.preprocess))?;
    if chunk.len() > 1 {
        let mut decoder = model.batch_decoder(encoded.view());
        return Ok(greedy_batch(&mut decoder, settings, chunk.len())?.len());
    }
    let mut decoder = model.decoder_for(encoded.index_axis(ndarray::Axis(0), 0));
    generate(&mut decoder, settings)?;
    Ok(1)
}

/// Captions per second of `workers` single-threaded captioners sharing the images.
fn side_by_side(
    folder: &std::path::Path,
    images: &[image::RgbImage],
    workers: usize,
    rounds: usize,
    batch: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let single = SessionConfig {
        device: Device::Cpu,
        precision: frameforge::config::Precision::Fp32,
        intra_threads: 1,
    };
    let mut models: Vec<CaptionModel> = (0..workers)
        .map(|_| CaptionModel::load(folder, "", single))
        .collect::<Result<_, _>>()?;
    let chunks: Vec<&[image::RgbImage]> = images.chunks(batch).collect();
    let started = Instant::now();
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = models
            .iter_mut()
            .enumerate()
            .map(|(worker, model)| {
                let chunks = &chunks;
                scope.spawn(move || -> Result<usize, String> {
                    let settings = Settings::model_defaults(&model.generation, 1);
                    let mut count = 0;
                    for _ in 0..rounds {
                        for chunk in chunks.iter().skip(worker).step_by(workers) {
                            let refs: Vec<&image::RgbImage> = chunk.iter().collect();
                            let encoded = model
                                .encode(pixel_values(&refs, &model.preprocess))
                                .map_err(|e| e.to_string())?;
                            let mut decoder = model.batch_decoder(encoded.view());
                            count += greedy_batch(&mut decoder, &settings, chunk.len())
                                .map_err(|e| e.to_string())?
                                .len();
                        }
                    }
                    Ok(count)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "worker panicked".to_string())?)
            .collect::<Result<_, _>>()
    })?;
    Ok(counts.iter().sum::<usize>() as f64 / started.elapsed().as_secs_f64())
}
