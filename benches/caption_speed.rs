//! Captions per second of the shipped captioner on the held-out reference images:
//! split vs merged decoder, greedy vs beam search, one session with N intra-op threads.
//!
//! `cargo bench --bench caption_speed -- [--threads N] [--rounds R]`

use std::path::PathBuf;
use std::time::Instant;

use frameforge::caption::generate::{generate, Settings};
use frameforge::caption::preprocess::pixel_values;
use frameforge::model::caption_model::CaptionModel;
use frameforge::model::runtime::DeviceRequest;
use frameforge::model::session::SessionConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut threads = 2;
    let mut rounds = 5;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        match arg.as_str() {
            "--threads" => threads = value,
            "--rounds" => rounds = value,
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
        device: DeviceRequest::Cpu,
        intra_threads: threads,
    };
    println!(
        "{} images × {rounds} rounds, batch 1, {threads} intra-op thread(s)",
        images.len()
    );
    for (label, folder) in [
        ("split", root.join("models/captioner")),
        ("merged", merged_dir.path().to_path_buf()),
    ] {
        let mut model = CaptionModel::load(&folder, "", config)?;
        for beams in [1usize, 3] {
            let settings = Settings {
                beams,
                max_length: model.generation.max_length,
                no_repeat_ngram_size: model.generation.no_repeat_ngram_size,
                config: model.generation.clone(),
            };
            let mut count = 0;
            let started = Instant::now();
            for _ in 0..rounds {
                for image in &images {
                    let encoded = model.encode(pixel_values(&[image], &model.preprocess))?;
                    let mut decoder = model.decoder_for(encoded.index_axis(ndarray::Axis(0), 0));
                    generate(&mut decoder, &settings)?;
                    count += 1;
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "  {label:6} decoder, beams {beams}: {:.1} captions/s",
                count as f64 / seconds
            );
        }
    }
    Ok(())
}
