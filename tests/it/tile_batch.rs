//! `tile_batch`: tiles of one window shape run together as one batch, also across the
//! frames of a video (whole frames with `tile: 0`). Each tile is still computed alone, so
//! the pictures equal those of tiles run one by one, for every model convention (free or
//! fixed batch, gray, RGBA, an output scale) and for 8- and 16-bit video frames.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::path::Path;

use util::{decode_rgb, ffmpeg, fixture, max_diff, Workspace};

/// Restores the golden inputs with `model` at tile 32 (several tiles of each window
/// shape) and `tile_batch`; the outputs by name.
fn restore_goldens(model: &Path, extra: &str, tile_batch: u32) -> Vec<(String, image::RgbImage)> {
    let ws = Workspace::new();
    ws.golden_inputs();
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {}\n      tile: 32\n      tile_overlap: 8\n      \
         tile_batch: {tile_batch}\n{extra}",
        model.display()
    ));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    util::GOLDEN_INPUTS
        .iter()
        .map(|name| {
            let picture = image::open(ws.path(&format!("out/{name}.png"))).unwrap();
            (name.to_string(), picture.to_rgb8())
        })
        .collect()
}

#[test]
fn tiles_run_together_give_the_pictures_of_tiles_run_alone() {
    let convention = |name: &str| fixture(&format!("models/conventions/{name}"));
    let cases = [
        (util::model("realesr-animevideov3-x2.onnx"), ""),
        (
            util::model("realesr-animevideov3-x4.onnx"),
            "      scale: 2\n",
        ),
        (convention("conv_x2_fixed_batch2_40x48.onnx"), ""),
        (convention("gray_x2.onnx"), ""),
        (convention("rgba_x2.onnx"), ""),
    ];
    for (model, extra) in &cases {
        let alone = restore_goldens(model, extra, 1);
        let together = restore_goldens(model, extra, 5);
        for ((name, a), (_, b)) in alone.iter().zip(&together) {
            assert_eq!(a.dimensions(), b.dimensions(), "{name}");
            let worst = max_diff(a.as_raw(), b.as_raw());
            assert!(
                worst <= 1,
                "{} on {name}: tile_batch 5 differs from tile_batch 1 by up to {worst}",
                model.display()
            );
        }
    }
}

/// Restores every video under `in/` to FFV1 in `pixel_format` at `tile` with
/// `tile_batch`, into the workspace folder `outT-N`.
fn restore_videos(
    ws: &Workspace,
    tile: u32,
    tile_batch: u32,
    pixel_format: &str,
) -> std::path::PathBuf {
    let out = format!("out{tile}-{tile_batch}");
    let pipeline = ws.pipeline_with(
        "",
        &out,
        &format!(
            "stages:\n  - restore:\n      model: {{x2}}\n      tile: {tile}\n      tile_overlap: 8\n      \
             tile_batch: {tile_batch}\nencode:\n  codec: ffv1\n  pixel_format: {pixel_format}\n"
        ),
    );
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    ws.path(&out)
}

#[test]
fn video_frames_of_8_and_16_bits_come_out_the_same_in_batches() {
    for (pixel_format, source) in [
        ("bgr0", "golden/chelsea_61x47.png"),
        ("gbrp16le", "images/rgb16.png"),
    ] {
        let ws = Workspace::new();
        std::fs::create_dir_all(ws.path("in")).unwrap();
        let video = ws.path("in/clip.mkv");
        let source = fixture(source);
        // Three frames, the second one mirrored, so that frames differ.
        ffmpeg([
            "-loop",
            "1",
            "-i",
            source.to_str().unwrap(),
            "-vf",
            "hflip=enable='eq(n,1)'",
            "-frames:v",
            "3",
            "-c:v",
            "ffv1",
            "-pix_fmt",
            pixel_format,
            video.to_str().unwrap(),
        ]);
        // Tiles of each frame together, and whole frames together (up to three a run).
        for (tile, tile_batch) in [(32, 4), (0, 3)] {
            let alone = restore_videos(&ws, tile, 1, pixel_format);
            let together = restore_videos(&ws, tile, tile_batch, pixel_format);
            let a = decode_rgb(&alone.join("clip.mkv"));
            let b = decode_rgb(&together.join("clip.mkv"));
            assert_eq!(a.len(), 3);
            assert_eq!(a.len(), b.len());
            for (index, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_eq!(x.dimensions(), y.dimensions());
                let worst = max_diff(x.as_raw(), y.as_raw());
                assert!(
                    worst <= 1,
                    "{pixel_format} tile {tile} frame {index}: differs by up to {worst}"
                );
            }
            assert_ne!(a[0], a[1], "the frames differ");
        }
    }
}

#[test]
fn a_tile_batch_out_of_range_is_refused_with_its_position() {
    let ws = Workspace::new();
    ws.golden_inputs();
    let pipeline = ws.pipeline("stages:\n  - restore:\n      model: {x2}\n      tile_batch: 0\n");
    let stderr = util::refused_by_validate(&pipeline);
    assert!(
        stderr.contains(":8:19: tile_batch 0 is out of range (expected 1 to 64)"),
        "{stderr}"
    );
}
