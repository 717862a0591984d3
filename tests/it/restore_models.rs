//! The live-action restoration models in models/ run through FrameForge as their ncnn
//! originals do: each golden (tools/make_goldens.py) is the original's output on a crop
//! of a real photo, and FrameForge's result must match it, whole frame and tiled.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use util::{fixture, max_diff, model, psnr, Workspace, GOLDEN_INPUTS};

/// A faithful path is within a level or two of the original (the conversion alone is
/// above 79 dB); a wrong border padding still reaches about 49 dB on these crops.
const GOLDEN_PSNR: f64 = 60.0;

/// Restores every golden input with `file` at `tile` and compares with the goldens
/// tagged `tag`; returns the lowest PSNR.
fn check_model(file: &str, tag: &str, tile: u32) -> f64 {
    let ws = Workspace::new();
    ws.golden_inputs();
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {}\n      tile: {tile}\n      tile_overlap: 16\n",
        model(file).display()
    ));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{file}: {}", run.stderr);
    let mut lowest = f64::INFINITY;
    for name in GOLDEN_INPUTS {
        let restored = image::open(ws.path(&format!("out/{name}.png")))
            .unwrap()
            .to_rgb8();
        let golden = image::open(fixture(&format!("golden/{name}.{tag}.png")))
            .unwrap()
            .to_rgb8();
        assert_eq!(restored.dimensions(), golden.dimensions(), "{file} {name}");
        let p = psnr(restored.as_raw(), golden.as_raw());
        let worst = max_diff(restored.as_raw(), golden.as_raw());
        assert!(
            p >= GOLDEN_PSNR && worst <= 2,
            "{file} on {name}, tile {tile}: PSNR {p:.1} dB, max diff {worst}"
        );
        lowest = lowest.min(p);
    }
    lowest
}

#[test]
fn span_clearreality_x4_matches_its_original() {
    check_model("span-clearreality-x4.onnx", "span-clearreality-x4", 0);
    check_model("span-clearreality-x4.onnx", "span-clearreality-x4", 40);
}

#[test]
fn span_kendata_x4_matches_its_original() {
    check_model("span-kendata-x4.onnx", "span-kendata-x4", 0);
    check_model("span-kendata-x4.onnx", "span-kendata-x4", 40);
}

#[test]
fn span_x2_ch48_matches_its_original() {
    check_model("span-x2-ch48.onnx", "span-x2-ch48", 0);
    check_model("span-x2-ch48.onnx", "span-x2-ch48", 40);
}

#[test]
fn span_x4_ch52_matches_its_original() {
    check_model("span-x4-ch52.onnx", "span-x4-ch52", 0);
    check_model("span-x4-ch52.onnx", "span-x4-ch52", 40);
}

/// The large RRDB models are installed by `tools/install_models.sh` (which the test
/// command runs), not committed.
#[test]
fn realesrgan_x4plus_matches_its_original() {
    check_model("realesrgan-x4plus.onnx", "realesrgan-x4plus", 0);
}

#[test]
fn realsr_df2k_x4_matches_its_original() {
    check_model("realsr-df2k-x4.onnx", "realsr-df2k-x4", 0);
}
