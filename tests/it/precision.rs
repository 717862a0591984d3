//! `precision`: restoration models converted to float16 at load. On this CPU ONNX
//! Runtime runs the converted graph through casts around its float32 kernels, so every
//! tensor between nodes is rounded to float16 as on a GPU: the outputs must stay within
//! 45 dB of the originals' goldens, and `auto` must leave the CPU in float32.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use util::{fixture, model, psnr, refused_by_validate, Workspace, GOLDEN_INPUTS};

/// The float16 form of a model against its float32 original's golden.
const FLOAT16_PSNR: f64 = 45.0;

/// Restores the golden inputs with `file` at `precision`; each output's pixels.
fn restore(file: &str, precision: &str) -> Vec<image::RgbImage> {
    let ws = Workspace::new();
    ws.golden_inputs();
    let pipeline = ws.pipeline(&format!(
        "device: cpu\nprecision: {precision}\nstages:\n  - restore:\n      model: {}\n",
        model(file).display()
    ));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{file}: {}", run.stderr);
    GOLDEN_INPUTS
        .iter()
        .map(|name| {
            image::open(ws.path(&format!("out/{name}.png")))
                .unwrap()
                .to_rgb8()
        })
        .collect()
}

/// The lowest PSNR of `file`'s float16 outputs against the goldens tagged `tag`; every
/// output must also differ from the float32 one somewhere (else nothing was converted).
fn float16_against_goldens(file: &str, tag: &str) -> f64 {
    let half = restore(file, "fp16");
    let full = restore(file, "fp32");
    let mut lowest = f64::INFINITY;
    for ((name, half), full) in GOLDEN_INPUTS.iter().zip(&half).zip(&full) {
        let golden = image::open(fixture(&format!("golden/{name}.{tag}.png")))
            .unwrap()
            .to_rgb8();
        let p = psnr(half.as_raw(), golden.as_raw());
        assert!(p >= FLOAT16_PSNR, "{file} in float16 on {name}: {p:.1} dB");
        lowest = lowest.min(p);
        assert_ne!(
            half.as_raw(),
            full.as_raw(),
            "{file} on {name}: fp16 = fp32"
        );
    }
    lowest
}

#[test]
fn the_compact_and_span_clearreality_models_in_float16_match_their_goldens() {
    for (file, tag) in [
        ("realesr-animevideov3-x2.onnx", "animev3-x2"),
        ("realesr-animevideov3-x4.onnx", "animev3-x4"),
        ("span-clearreality-x4.onnx", "span-clearreality-x4"),
    ] {
        let lowest = float16_against_goldens(file, tag);
        eprintln!("{file}: float16 {lowest:.1} dB against the golden");
    }
}

#[test]
fn the_rrdb_model_in_float16_matches_its_golden() {
    let lowest = float16_against_goldens("realesrgan-x4plus.onnx", "realesrgan-x4plus");
    eprintln!("realesrgan-x4plus: float16 {lowest:.1} dB against the golden");
}

/// On the CPU `auto` is float32: the same pixels as `fp32`.
#[test]
fn auto_runs_float32_on_the_cpu() {
    let auto = restore("realesr-animevideov3-x2.onnx", "auto");
    let full = restore("realesr-animevideov3-x2.onnx", "fp32");
    assert_eq!(auto, full);
}

#[test]
fn an_unknown_precision_is_refused_at_its_line() {
    let ws = Workspace::new();
    let pipeline = ws.pipeline("precision: half\nstages:\n  - restore:\n      model: {x2}\n");
    let stderr = refused_by_validate(&pipeline);
    assert!(
        stderr
            .trim_end()
            .ends_with(":5:12: unknown variant `half`, expected one of `auto`, `fp32`, `fp16`"),
        "{stderr}"
    );
}

/// The load-time check `precision: auto` uses on a GPU, run here on the CPU: the compact,
/// RRDB and ClearReality models keep their quality in float16; SPAN ×2 ch48 (input
/// scaled by 255, rounding amplified block by block) ends 33 dB from float32 on the
/// probe photograph, so `auto` keeps it in float32.
#[test]
fn the_float16_check_keeps_faithful_models_only() {
    use frameforge::config::{Device, Precision};
    use frameforge::model::float16_check::{float16_psnr, FAITHFUL_PSNR};
    use frameforge::model::restore_model::RestoreModel;
    use frameforge::model::session::SessionConfig;
    let open = |file: &str, precision| {
        let config = SessionConfig {
            device: Device::Cpu,
            precision,
            intra_threads: 1,
        };
        RestoreModel::load(&model(file), config).unwrap()
    };
    for (file, faithful) in [
        ("realesr-animevideov3-x2.onnx", true),
        ("realesrgan-x4plus.onnx", true),
        ("span-clearreality-x4.onnx", true),
        ("span-x2-ch48.onnx", false),
    ] {
        let mut full = open(file, Precision::Fp32);
        let mut half = open(file, Precision::Fp16);
        assert_eq!(half.interface().precision, Precision::Fp16);
        let psnr = float16_psnr(&mut full, &mut half).unwrap();
        eprintln!("{file}: float16 is {psnr:.1} dB from float32 on the probe");
        assert_eq!(psnr >= FAITHFUL_PSNR, faithful, "{file}: {psnr:.1} dB");
    }
    // On the CPU `auto` keeps float32 without trying.
    let auto = open("realesr-animevideov3-x2.onnx", Precision::Auto);
    assert_eq!(auto.interface().precision, Precision::Fp32);
}
