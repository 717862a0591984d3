//! The Rust captioner against transformers: for every held-out image the token ids of
//! greedy search and of beam search (3 beams) equal those `generate()` produced on the
//! same model (`fixtures/caption/reference.json`, written by
//! `tools/caption/make_reference.py`), through the merged and the split decoder alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use frameforge::caption::generate::{generate, greedy_batch, Settings};
use frameforge::caption::model::CaptionModel;
use frameforge::caption::preprocess::pixel_values;
use frameforge::config::Device;
use frameforge::model::session::SessionConfig;
use serde_json::Value;
use util::{fixture, root};

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("caption/reference.json")).unwrap())
        .unwrap()
}

fn session() -> SessionConfig {
    SessionConfig {
        device: Device::Cpu,
        precision: frameforge::config::Precision::Fp32,
        intra_threads: 1,
    }
}

fn ids(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

/// Captions every reference image with `model` and returns the mismatches.
fn mismatches(model: &mut CaptionModel, beams: usize, key: &str) -> (usize, Vec<String>) {
    let reference = reference();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for item in reference["images"].as_array().unwrap() {
        let file = item["file"].as_str().unwrap();
        let image = image::open(fixture(&format!("caption/{file}")))
            .unwrap()
            .to_rgb8();
        let pixels = pixel_values(&[&image], &model.preprocess);
        let expected_first: Vec<f32> = item["pixel_values_first8"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let got_first: Vec<f32> = pixels.iter().take(8).copied().collect();
        for (g, e) in got_first.iter().zip(&expected_first) {
            assert!(
                (g - e).abs() < 1e-5,
                "{file}: pixel values {got_first:?} vs {expected_first:?}"
            );
        }
        let encoded = model.encode(pixels).unwrap();
        let settings = Settings::model_defaults(&model.generation, beams);
        let generated = {
            let mut decoder = model.decoder_for(encoded.index_axis(ndarray::Axis(0), 0));
            generate(&mut decoder, &settings).unwrap()
        };
        let expected = ids(&item[key]["ids"]);
        if generated.tokens != expected {
            wrong.push(format!(
                "{file}: got {:?}, expected {expected:?}",
                generated.tokens
            ));
        } else {
            assert_eq!(
                model.decode_text(&generated.tokens).unwrap(),
                item[key]["text"].as_str().unwrap()
            );
        }
        checked += 1;
    }
    (checked, wrong)
}

/// Captions all reference images in one batch (one encoder run, greedy search with one
/// decoder row per image) and returns the mismatches against `generate()`.
fn batched_greedy_mismatches(model: &mut CaptionModel) -> (usize, Vec<String>) {
    let reference = reference();
    let items = reference["images"].as_array().unwrap();
    let images: Vec<image::RgbImage> = items
        .iter()
        .map(|item| {
            let file = item["file"].as_str().unwrap();
            image::open(fixture(&format!("caption/{file}")))
                .unwrap()
                .to_rgb8()
        })
        .collect();
    let refs: Vec<&image::RgbImage> = images.iter().collect();
    let encoded = model
        .encode(pixel_values(&refs, &model.preprocess))
        .unwrap();
    let settings = Settings::model_defaults(&model.generation, 1);
    let generated = {
        let mut decoder = model.batch_decoder(encoded.view());
        greedy_batch(&mut decoder, &settings, images.len()).unwrap()
    };
    assert_eq!(generated.len(), items.len());
    let lengths: std::collections::BTreeSet<usize> =
        generated.iter().map(|g| g.tokens.len()).collect();
    // Rows leave the batch at different steps, which is what the batch must survive.
    assert!(
        lengths.len() > 1,
        "all captions have one length: {lengths:?}"
    );
    let wrong = items
        .iter()
        .zip(&generated)
        .filter(|(item, got)| got.tokens != ids(&item["greedy"]["ids"]))
        .map(|(item, got)| {
            format!(
                "{}: got {:?}, expected {:?}",
                item["file"],
                got.tokens,
                ids(&item["greedy"]["ids"])
            )
        })
        .collect();
    (generated.len(), wrong)
}

fn load(only_merged: bool) -> (CaptionModel, Option<tempfile::TempDir>) {
    let folder = root().join("models/captioner");
    if !only_merged {
        return (CaptionModel::load(&folder, "", session()).unwrap(), None);
    }
    // The same model with the merged decoder only.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name != "decoder_model.onnx" && name != "decoder_with_past_model.onnx" {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    let model = CaptionModel::load(dir.path(), "", session()).unwrap();
    (model, Some(dir))
}

#[test]
fn greedy_tokens_equal_transformers_generate_with_the_split_decoder() {
    let (mut model, _dir) = load(false);
    assert_eq!(model.decoder_form(), "split");
    assert!(model.image_part_split_off());
    let (checked, wrong) = mismatches(&mut model, 1, "greedy");
    assert!(checked >= 20, "only {checked} reference images");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn greedy_tokens_equal_transformers_generate_with_the_merged_decoder() {
    let (mut model, _dir) = load(true);
    assert_eq!(model.decoder_form(), "merged");
    let (_, wrong) = mismatches(&mut model, 1, "greedy");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn beam3_tokens_equal_transformers_generate() {
    let (mut model, _dir) = load(false);
    let (checked, wrong) = mismatches(&mut model, 3, "beam3");
    assert!(checked >= 20);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn beam3_with_the_merged_decoder_agrees_too() {
    let (mut model, _dir) = load(true);
    let (_, wrong) = mismatches(&mut model, 3, "beam3");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn greedy_over_all_images_at_once_equals_transformers_generate() {
    for only_merged in [false, true] {
        let (mut model, _dir) = load(only_merged);
        let (checked, wrong) = batched_greedy_mismatches(&mut model);
        assert!(checked >= 20, "only {checked} reference images");
        assert!(
            wrong.is_empty(),
            "{}: {}",
            model.decoder_form(),
            wrong.join("\n")
        );
    }
}

/// The captioner loaded to check the model at load time is the run's first captioner:
/// with the folder gone after loading, the first captioner is still there and only a
/// second one fails to load.
#[test]
fn the_captioner_checked_at_load_is_the_first_one_a_run_gets() {
    let work = util::Workspace::new();
    let folder = work.path("captioner");
    util::copy_captioner(&folder, &[]);
    let pipeline = work.pipeline(&format!(
        "stages:\n  - caption:\n      model: {}\n",
        folder.display()
    ));
    let draft = frameforge::config::load_draft(&pipeline);
    let plan = frameforge::stage::StagePlan::check(&draft, session()).unwrap();
    let setup = plan.caption().unwrap().clone();
    std::fs::remove_dir_all(&folder).unwrap();
    assert!(setup.load().is_ok());
    let second = setup.load().err().unwrap().to_string();
    assert!(
        second.ends_with("captioning model folder not found"),
        "{second}"
    );
}

/// Two captioners of one folder read its weights once and share them; they are let go
/// with the last captioner.
#[test]
fn captioners_of_one_folder_share_one_copy_of_the_weights() {
    use frameforge::model::shared_weights::shared_tensors_of;
    let work = util::Workspace::new();
    let folder = work.path("captioner");
    util::copy_captioner(&folder, &[]);
    let graphs = ["encoder_model.onnx", "decoder_with_past_model.onnx"].map(|g| folder.join(g));
    let held = || graphs.iter().map(|g| shared_tensors_of(g)).sum::<usize>();
    let mut first = CaptionModel::load(&folder, "", session()).unwrap();
    let shared = held();
    assert!(shared > 10, "{shared} tensors shared");
    let mut second = CaptionModel::load(&folder, "", session()).unwrap();
    assert_eq!(held(), shared);
    let (_, wrong_first) = mismatches(&mut first, 1, "greedy");
    let (_, wrong_second) = mismatches(&mut second, 1, "greedy");
    assert!(wrong_first.is_empty() && wrong_second.is_empty());
    drop(first);
    assert_eq!(held(), shared);
    drop(second);
    assert_eq!(held(), 0);
}

/// The binary captions the 24 held-out stills as `generate()` does (greedy) when eight
/// jobs share one captioner: stills of different files wait together and are captioned
/// in shared batches, each getting the caption it would get alone.
#[test]
fn stills_captioned_together_get_generates_greedy_text() {
    let ws = util::Workspace::new();
    let reference = reference();
    let items = reference["images"].as_array().unwrap();
    std::fs::create_dir_all(ws.path("in")).unwrap();
    for item in items {
        let file = item["file"].as_str().unwrap();
        let name = file.trim_start_matches("heldout/");
        std::fs::copy(
            root().join("fixtures/caption").join(file),
            ws.path(&format!("in/{name}")),
        )
        .unwrap();
    }
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - caption:\n      model: {}\n      beams: 1\n",
        root().join("models/captioner").display()
    ));
    let run = ws.run(&pipeline, &["--jobs", "8", "--threads", "1"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let wrong: Vec<String> = items
        .iter()
        .filter_map(|item| {
            let file = item["file"].as_str().unwrap();
            let stem = file.trim_start_matches("heldout/").trim_end_matches(".png");
            let written = std::fs::read_to_string(ws.path(&format!("out/{stem}.txt"))).unwrap();
            let expected = item["greedy"]["text"].as_str().unwrap();
            (written.trim_end() != expected).then(|| format!("{file}: {written:?} vs {expected:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}
