//! Models in the conventions users' downloads come in (tools/make_convention_models.py):
//! float16 input/output, fixed shapes, size multiples, scales 1 to 8, gray and RGBA
//! models, a second input, an output scale, and what is refused, and why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::path::PathBuf;

use util::{fixture, frameforge, max_diff, psnr, Workspace};

fn convention(name: &str) -> PathBuf {
    fixture(&format!("models/conventions/{name}"))
}

/// A workspace whose input holds the given fixtures, and a pipeline restoring them with
/// `model` (and `extra` lines in the restore stage).
fn workspace(inputs: &[(&str, &str)], model: &std::path::Path, extra: &str) -> Workspace {
    let ws = Workspace::new();
    ws.input(inputs);
    ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {}\n{extra}",
        model.display()
    ));
    ws
}

/// Restores `input` with `model` and returns the output as RGB.
fn restore(input: &str, model: &std::path::Path, extra: &str) -> image::RgbImage {
    let ws = workspace(&[(input, "img.png")], model, extra);
    let run = ws.run(&ws.path("pipeline.yaml"), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    image::open(ws.path("out/img.png")).unwrap().to_rgb8()
}

fn assert_close(a: &image::RgbImage, b: &image::RgbImage, worst: u8, what: &str) {
    assert_eq!(a.dimensions(), b.dimensions(), "{what}: size");
    let (p, m) = (
        psnr(a.as_raw(), b.as_raw()),
        max_diff(a.as_raw(), b.as_raw()),
    );
    assert!(m <= worst, "{what}: max diff {m} (PSNR {p:.1} dB)");
}

/// Validates a pipeline with `model` and returns its stderr (exit 2 expected).
fn refused(model: &std::path::Path) -> String {
    let ws = workspace(&[("golden/chelsea_61x47.png", "c.png")], model, "");
    let output = frameforge()
        .arg("validate")
        .arg(ws.path("pipeline.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn float16_input_and_output_give_the_float32_result() {
    let f32_io = restore(
        "golden/astronaut_96x80.png",
        &convention("conv_x2.onnx"),
        "",
    );
    let f16_io = restore(
        "golden/astronaut_96x80.png",
        &convention("conv_x2_fp16io.onnx"),
        "",
    );
    assert_eq!(f16_io.dimensions(), (192, 160));
    assert_close(&f16_io, &f32_io, 1, "float16 I/O");
    let p = psnr(f16_io.as_raw(), f32_io.as_raw());
    assert!(p >= 50.0, "float16 I/O: PSNR {p:.1} dB");
    // Float16 weights and arithmetic too: further off, still the same picture.
    let f16 = restore(
        "golden/astronaut_96x80.png",
        &convention("conv_x2_fp16.onnx"),
        "",
    );
    let p = psnr(f16.as_raw(), f32_io.as_raw());
    assert!(p >= 40.0, "float16 throughout: PSNR {p:.1} dB");
}

/// A static [1,3,64,64] model runs on tiles of exactly that size (a 61x47 still is
/// smaller than one window, so its window is filled by reflection), and a static batch
/// of 2 with 40x48 windows likewise; both give the free-shape model's result.
#[test]
fn fixed_shapes_run_in_tiles_of_their_size() {
    for input in ["golden/astronaut_96x80.png", "golden/chelsea_61x47.png"] {
        let free = restore(input, &convention("conv_x2.onnx"), "");
        for model in ["conv_x2_fixed64.onnx", "conv_x2_fixed_batch2_40x48.onnx"] {
            let fixed = restore(input, &convention(model), "      tile_overlap: 4\n");
            assert_close(&fixed, &free, 1, &format!("{model} on {input}"));
        }
    }
}

/// A model whose height and width must be multiples of 8 is found so by probing, and
/// frames of other sizes are padded to the multiple and cropped back.
#[test]
fn a_size_multiple_is_found_and_frames_are_padded_to_it() {
    for tile in ["0", "32"] {
        let extra = format!("      tile: {tile}\n");
        let free = restore(
            "golden/chelsea_61x47.png",
            &convention("conv_x2.onnx"),
            &extra,
        );
        let windowed = restore(
            "golden/chelsea_61x47.png",
            &convention("conv_x2_multiple8.onnx"),
            &extra,
        );
        assert_close(&windowed, &free, 1, &format!("multiple of 8, tile {tile}"));
    }
    let inspect = frameforge()
        .arg("inspect")
        .arg(convention("conv_x2_multiple8.onnx"))
        .output()
        .unwrap();
    let text = String::from_utf8(inspect.stdout).unwrap();
    assert!(
        text.contains("windows: any size that is a multiple of 8"),
        "{text}"
    );
}

#[test]
fn scales_one_to_eight_are_taken() {
    for (model, scale) in [
        ("conv_x1.onnx", 1),
        ("conv_x3.onnx", 3),
        ("conv_x8.onnx", 8),
    ] {
        let out = restore("golden/chelsea_61x47.png", &convention(model), "");
        assert_eq!(out.dimensions(), (61 * scale, 47 * scale), "{model}");
    }
}

#[test]
fn scales_that_are_not_integers_from_one_to_eight_are_refused_at_load() {
    let fractional = refused(&convention("fractional_x1_5.onnx"));
    assert!(
        fractional.contains(
            "fractional_x1_5.onnx: a 17x17 input gave 25x25 (×1.471): a restore stage \
             needs one integer scale from 1 to 8"
        ),
        "{fractional}"
    );
    let sixteen = refused(&convention("conv_x16.onnx"));
    assert!(
        sixteen.contains(
            "conv_x16.onnx: a 17x17 input gave 272x272: scale 16 is out of range (a restore \
             stage takes 1 to 8)"
        ),
        "{sixteen}"
    );
}

/// A gray model restores each colour plane as its own image: each plane of the colour
/// result is what the model makes of that plane as a gray picture; a gray source stays
/// gray.
#[test]
fn a_gray_model_restores_each_plane() {
    let ws = Workspace::new();
    ws.input(&[("golden/coffee_72x64.png", "colour.png")]);
    let colour = image::open(ws.path("in/colour.png")).unwrap().to_rgb8();
    for plane in 0..3 {
        let gray = image::GrayImage::from_fn(colour.width(), colour.height(), |x, y| {
            image::Luma([colour.get_pixel(x, y).0[plane]])
        });
        gray.save(ws.path(&format!("in/plane{plane}.png"))).unwrap();
    }
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {}\n      tile: 48\n",
        convention("gray_x2.onnx").display()
    ));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let restored = image::open(ws.path("out/colour.png")).unwrap().to_rgb8();
    assert_eq!(restored.dimensions(), (144, 128));
    for plane in 0..3 {
        let out = image::open(ws.path(&format!("out/plane{plane}.png"))).unwrap();
        assert!(
            matches!(out, image::DynamicImage::ImageLuma8(_)),
            "gray stays gray"
        );
        let from_colour: Vec<u8> = restored.pixels().map(|p| p.0[plane]).collect();
        assert_eq!(
            max_diff(&from_colour, out.to_luma8().as_raw()),
            0,
            "plane {plane}"
        );
    }
}

/// An RGBA model gets the colour with opaque alpha: a source's own alpha is scaled
/// separately (as for every model), and its colour result is the same as without alpha.
#[test]
fn an_rgba_model_gets_opaque_alpha_and_the_source_alpha_is_kept() {
    let ws = Workspace::new();
    ws.input(&[("images/alpha.png", "alpha.png")]);
    let source = image::open(ws.path("in/alpha.png")).unwrap().to_rgba8();
    image::DynamicImage::ImageRgba8(source.clone())
        .to_rgb8()
        .save(ws.path("in/opaque.png"))
        .unwrap();
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {}\n",
        convention("rgba_x2.onnx").display()
    ));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let with_alpha = image::open(ws.path("out/alpha.png")).unwrap().to_rgba8();
    let opaque = image::open(ws.path("out/opaque.png")).unwrap().to_rgb8();
    let colour = image::DynamicImage::ImageRgba8(with_alpha.clone()).to_rgb8();
    assert_eq!(max_diff(colour.as_raw(), opaque.as_raw()), 0);
    let alpha_in = image::GrayImage::from_fn(source.width(), source.height(), |x, y| {
        image::Luma([source.get_pixel(x, y).0[3]])
    });
    let expected = image::imageops::resize(
        &alpha_in,
        with_alpha.width(),
        with_alpha.height(),
        image::imageops::FilterType::CatmullRom,
    );
    let alpha_out: Vec<u8> = with_alpha.pixels().map(|p| p.0[3]).collect();
    assert_eq!(max_diff(&alpha_out, expected.as_raw()), 0);
}

/// A second input (DPIR's noise level) without a value is refused naming it; with a
/// constant in the sidecar it is filled, and the value reaches the model.
#[test]
fn a_second_input_needs_a_constant_from_the_sidecar() {
    let message = refused(&convention("noise_level_x1.onnx"));
    assert!(
        message.contains(
            "noise_level_x1.onnx: input `sigma` (float32 [?,1,?,?]) has no value: FrameForge \
             feeds the frame to `input` and can fill another input only with a constant from \
             the model's sidecar (`constants: {sigma: VALUE}`, e.g. a noise level)"
        ),
        "{message}"
    );
    let ws = Workspace::new();
    for (sigma, name) in [("0.1", "a"), ("0.0", "b")] {
        std::fs::create_dir_all(ws.path(name)).unwrap();
        let model = ws.path(&format!("{name}/noise.onnx"));
        std::fs::copy(convention("noise_level_x1_sidecar.onnx"), &model).unwrap();
        std::fs::write(
            ws.path(&format!("{name}/noise.yaml")),
            format!("constants:\n  sigma: {sigma}\n"),
        )
        .unwrap();
    }
    let outputs: Vec<image::RgbImage> = ["a", "b"]
        .iter()
        .map(|name| {
            restore(
                "golden/coffee_72x64.png",
                &ws.path(&format!("{name}/noise.onnx")),
                "",
            )
        })
        .collect();
    // The model subtracts half the noise level: 0.05 of full scale, 12.75 levels, where
    // nothing clips.
    let differences: Vec<f64> = outputs[1]
        .as_raw()
        .iter()
        .zip(outputs[0].as_raw())
        .filter(|(b, _)| **b > 20 && **b < 235)
        .map(|(b, a)| f64::from(*b) - f64::from(*a))
        .collect();
    let mean = differences.iter().sum::<f64>() / differences.len() as f64;
    assert!((mean - 12.75).abs() < 0.6, "mean difference {mean}");
}

/// A model whose output overflows to Inf fails that file with the reason; it does not
/// write a black picture, and a dark picture it can restore in the same batch is done.
#[test]
fn nan_or_inf_output_fails_the_file_instead_of_writing_black() {
    let ws = Workspace::new();
    ws.input(&[("golden/coffee_72x64.png", "bright.png")]);
    let dark = image::RgbImage::from_pixel(40, 30, image::Rgb([60, 80, 100]));
    dark.save(ws.path("in/dark.png")).unwrap();
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {}\n",
        convention("overflow_fp16.onnx").display()
    ));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let failure = ws.failure_lines(&run.stderr, "bright.png").join("\n");
    assert!(
        failure.contains("NaN/Inf values") && failure.contains("would come out black"),
        "{}",
        run.stderr
    );
    assert!(!ws.path("out/bright.png").exists());
    assert!(ws.path("out/dark.png").exists());
}

/// `scale: 2` on a ×4 model delivers ×2: the model's output resized with Lanczos-3,
/// tile by tile, matching a resize of the whole ×4 picture.
#[test]
fn an_output_scale_resizes_the_models_result() {
    let model = util::model("realesr-animevideov3-x4.onnx");
    let full = restore("golden/chelsea_61x47.png", &model, "      tile: 0\n");
    let half = restore(
        "golden/chelsea_61x47.png",
        &model,
        "      scale: 2\n      tile: 32\n      tile_overlap: 16\n",
    );
    assert_eq!(half.dimensions(), (122, 94));
    let expected = image::imageops::resize(&full, 122, 94, image::imageops::FilterType::Lanczos3);
    let p = psnr(half.as_raw(), expected.as_raw());
    assert!(
        p >= 40.0,
        "×4 resized to ×2: PSNR {p:.1} dB against a whole-picture resize"
    );
}

#[test]
fn inspect_says_what_a_model_is_and_whether_it_runs() {
    let output = frameforge()
        .arg("inspect")
        .arg(convention("conv_x2_fixed64.onnx"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    for line in [
        "input `x`: float32 [1,3,64,64]",
        "output `y`: float32 [1,3,128,128]",
        "channels: 3 (RGB)",
        "scale: 2",
        "windows: fixed 64x64",
        "runs here: yes, on cpu",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    let output = frameforge()
        .args(["inspect", "--json"])
        .arg(convention("noise_level_x1.onnx"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["runs"], false);
    assert_eq!(json["inputs"][1]["name"], "sigma");
    assert!(json["error"].as_str().unwrap().contains("input `sigma`"));
    let shipped = frameforge()
        .args(["inspect", "--json"])
        .arg(util::model("realesr-animevideov3-x2.onnx"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&shipped.stdout).unwrap();
    assert_eq!(json["interface"]["scale"], 2);
    assert_eq!(json["sidecar"]["license"], "BSD-3-Clause");
    assert_eq!(json["sidecar"]["sha256"], json["sha256"]);
}

/// report.json names the model (file and sha256) each restored item was made with.
#[test]
fn the_report_names_the_model_of_each_output() {
    use sha2::Digest;
    let model = convention("conv_x2.onnx");
    let ws = workspace(&[("golden/chelsea_61x47.png", "c.png")], &model, "");
    let run = ws.run(&ws.path("pipeline.yaml"), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report = ws.report();
    let models = &report["items"][0]["models"];
    let expected = format!("{:x}", sha2::Sha256::digest(std::fs::read(&model).unwrap()));
    assert_eq!(models[0]["sha256"], expected.as_str());
    assert!(models[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("conv_x2.onnx"));
    // A rerun skips the item: its entry stays the first run's, naming that run's model.
    let first = report["items"][0].clone();
    let rerun = ws.run(&ws.path("pipeline.yaml"), &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    let again = &ws.report()["items"][0];
    assert_eq!(again["models"], first["models"]);
    assert_eq!(again["run"], first["run"]);
}

/// Runs go through buffers bound per tile shape: a model that changes shape and comes back
/// gives, for each input, the bits a fresh model gives.
#[test]
fn bound_buffers_follow_the_tile_shape() {
    use frameforge::config::{Device, Precision};
    use frameforge::model::restore_model::RestoreModel;
    use frameforge::model::session::SessionConfig;
    let config = SessionConfig {
        device: Device::Cpu,
        precision: Precision::Fp32,
        intra_threads: 1,
    };
    let path = util::model("realesr-animevideov3-x2.onnx");
    let tile = |h: usize, w: usize, seed: f32| {
        ndarray::Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| {
            ((c as f32 * 0.31 + y as f32 * 0.07 + x as f32 * 0.13 + seed).sin() + 1.0) / 2.0
        })
    };
    let inputs = [tile(32, 32, 0.0), tile(40, 48, 1.0), tile(32, 32, 2.0)];
    let mut shared = RestoreModel::load(&path, config).unwrap();
    assert!(shared.interface().can_bind());
    for input in &inputs {
        let mut fresh = RestoreModel::load(&path, config).unwrap();
        let expected = fresh.infer(input.view()).unwrap();
        let got = shared.infer(input.view()).unwrap();
        assert_eq!(got.dim(), (1, 3, input.dim().2 * 2, input.dim().3 * 2));
        assert_eq!(got, expected);
    }
}
