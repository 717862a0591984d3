//! The token ids FrameForge's captioner gives each image of a folder (sorted by name,
//! one image at a time, the model's own generation settings with `--beams`), as JSON for
//! `tools/caption/bench_real.py compare` to hold against `generate()`'s.
//!
//! `cargo bench --bench caption_tokens -- MODEL_DIR IMAGES_DIR [--beams B]`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use frameforge::caption::generate::{generate, Settings};
use frameforge::caption::model::CaptionModel;
use frameforge::caption::preprocess::pixel_values;
use frameforge::config::Device;
use frameforge::model::session::SessionConfig;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [model_dir, images_dir, rest @ ..] = args.as_slice() else {
        return Err("usage: caption_tokens MODEL_DIR IMAGES_DIR [--beams B]".into());
    };
    let beams = match rest {
        [flag, value] if flag == "--beams" => value.parse()?,
        _ => 1,
    };
    let config = SessionConfig {
        device: Device::Cpu,
        precision: frameforge::config::Precision::Fp32,
        intra_threads: 1,
    };
    let mut model = CaptionModel::load(Path::new(model_dir), "", config)?;
    let settings = Settings::model_defaults(&model.generation, beams);
    let mut ids = BTreeMap::new();
    for path in images(Path::new(images_dir))? {
        let image = image::open(&path)?.to_rgb8();
        let encoded = model.encode(pixel_values(&[&image], &model.preprocess))?;
        let mut decoder = model.decoder_for(encoded.index_axis(ndarray::Axis(0), 0));
        let generated = generate(&mut decoder, &settings)?;
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        ids.insert(name.unwrap_or_default(), generated.tokens);
    }
    println!("{}", serde_json::json!({ "beams": beams, "ids": ids }));
    Ok(())
}

/// The PNG and JPEG files of `folder`, sorted by name.
fn images(folder: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_lowercase().as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}
