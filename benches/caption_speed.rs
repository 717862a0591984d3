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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut threads = 2;
    let mut rounds = 5;
    let mut batch = 8;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        match arg.as_str() {
            "--threads" => threads = value,
            "--rounds" => rounds = value,
            "--batch" => batch = value.max(1),
            _ => {}
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let heldout = root.join("fixtures/caption/heldout");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&heldout)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let images: Vec<image::RgbImage> = files
        .iter()
        .map(|f| image::open(f).map(|i| i.to_rgb8()))
        .collect::<Result<_, _>>()?;
    // The same model with only the merged decoder, for the comparison.
    let merged_dir = tempfile::tempdir()?;
    for entry in std::fs::read_dir(root.join("models/captioner"))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name != "decoder_model.onnx" && name != "decoder_with_past_model.onnx" {
            std::fs::copy(&path, merged_dir.path().join(&name))?;
        }
    }
    let config = SessionConfig {
        device: Device::Cpu,
        intra_threads: threads,
    };
    println!(
        "{} images × {rounds} rounds, {threads} intra-op thread(s)",
        images.len()
    );
    for (label, folder) in [
        ("split", root.join("models/captioner")),
        ("merged", merged_dir.path().to_path_buf()),
    ] {
        let mut model = CaptionModel::load(&folder, "", config)?;
        for (beams, size) in [(1usize, 1usize), (1, batch), (3, 1)] {
            let settings = Settings::model_defaults(&model.generation, beams);
            let mut count = 0;
            let started = Instant::now();
            for _ in 0..rounds {
                for chunk in images.chunks(size) {
                    let refs: Vec<&image::RgbImage> = chunk.iter().collect();
                    let encoded = model.encode(pixel_values(&refs, &model.preprocess))?;
                    if size > 1 {
                        let mut decoder = model.batch_decoder(encoded.view());
                        count += greedy_batch(&mut decoder, &settings, chunk.len())?.len();
                    } else {
                        let mut decoder =
                            model.decoder_for(encoded.index_axis(ndarray::Axis(0), 0));
                        generate(&mut decoder, &settings)?;
                        count += 1;
                    }
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "  {label:6} decoder, beams {beams}, batch {size}: {:.1} captions/s",
                count as f64 / seconds
            );
        }
    }
    // As a run captions: each still is its own job and a video's batches go to free
    // captioners, so the thread budget runs as that many single-threaded captioners.
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
