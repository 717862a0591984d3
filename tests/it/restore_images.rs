//! Still-image restoration against the committed goldens (the ncnn original's output),
//! tiling seams, and bit depth, grayscale and alpha handling.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use util::{fixture, frameforge, max_diff, psnr, Workspace};

/// The goldens come from the original ncnn model; a faithful ONNX path is within one
/// level. 60 dB is far above the 45 dB a wrong border padding can still reach.
const GOLDEN_PSNR: f64 = 60.0;

fn restore_one(input: &str, model: &str, tile: u32) -> image::RgbImage {
    let ws = Workspace::new();
    ws.input(&[(input, "img.png")]);
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {{{model}}}\n      tile: {tile}\n      tile_overlap: 16\n"
    ));
    frameforge().arg("run").arg(&pipeline).assert().success();
    image::open(ws.path("out/img.png")).unwrap().to_rgb8()
}

fn check_golden(name: &str, model: &str, tile: u32) {
    let restored = restore_one(&format!("golden/{name}.png"), model, tile);
    let golden = image::open(fixture(&format!("golden/{name}.animev3-{model}.png")))
        .unwrap()
        .to_rgb8();
    assert_eq!(restored.dimensions(), golden.dimensions());
    let p = psnr(restored.as_raw(), golden.as_raw());
    let worst = max_diff(restored.as_raw(), golden.as_raw());
    assert!(
        p >= GOLDEN_PSNR && worst <= 2,
        "{name} {model} tile {tile}: PSNR {p:.1} dB, max diff {worst}"
    );
}

#[test]
fn whole_frame_matches_the_original_model_x2() {
    for name in ["astronaut_96x80", "coffee_72x64", "chelsea_61x47"] {
        check_golden(name, "x2", 0);
    }
}

#[test]
fn whole_frame_matches_the_original_model_x4() {
    check_golden("astronaut_96x80", "x4", 0);
    check_golden("chelsea_61x47", "x4", 0);
}

#[test]
fn tiled_run_matches_the_original_model() {
    check_golden("astronaut_96x80", "x2", 40);
    check_golden("chelsea_61x47", "x4", 40);
}

#[test]
fn tiled_and_whole_frame_agree_without_seams() {
    let whole = restore_one("golden/astronaut_96x80.png", "x2", 0);
    let tiled = restore_one("golden/astronaut_96x80.png", "x2", 40);
    let p = psnr(whole.as_raw(), tiled.as_raw());
    assert!(p >= 50.0, "tiled vs whole: {p:.1} dB");
}

#[test]
fn sixteen_bit_gray_and_alpha_keep_their_layout() {
    let ws = Workspace::new();
    ws.input(&[
        ("images/gray16.png", "gray16.png"),
        ("images/gray.png", "gray.png"),
        ("images/alpha.png", "alpha.png"),
        ("images/rgb16.png", "rgb16.png"),
        ("images/coffee.jpg", "coffee.jpg"),
        ("images/chelsea.webp", "chelsea.webp"),
        ("images/rocket.tiff", "rocket.tiff"),
    ]);
    let pipeline = ws.pipeline("stages:\n  - restore:\n      model: {x2}\n      tile: 0\n");
    frameforge().arg("run").arg(&pipeline).assert().success();
    let cases = [
        ("gray16", image::ColorType::L16),
        ("gray", image::ColorType::L8),
        ("alpha", image::ColorType::Rgba8),
        ("rgb16", image::ColorType::Rgb16),
        ("coffee", image::ColorType::Rgb8),
        ("chelsea", image::ColorType::Rgb8),
        ("rocket", image::ColorType::Rgb8),
    ];
    for (name, colour) in cases {
        let source = image::open(ws.path(&format!("in/{}", ws_name(name)))).unwrap();
        let out = image::open(ws.path(&format!("out/{name}.png"))).unwrap();
        assert_eq!(
            (out.width(), out.height()),
            (source.width() * 2, source.height() * 2),
            "{name} size"
        );
        assert_eq!(out.color(), colour, "{name} colour type");
    }
}

/// The alpha plane is resized, not dropped or flattened: the restored alpha matches a
/// plain resize of the source alpha.
#[test]
fn alpha_is_carried_through() {
    let ws = Workspace::new();
    ws.input(&[("images/alpha.png", "alpha.png")]);
    let pipeline = ws.pipeline("stages:\n  - restore:\n      model: {x2}\n");
    frameforge().arg("run").arg(&pipeline).assert().success();
    let source = image::open(ws.path("in/alpha.png")).unwrap().to_rgba8();
    let out = image::open(ws.path("out/alpha.png")).unwrap().to_rgba8();
    let alpha_in: Vec<u8> = source.pixels().map(|p| p.0[3]).collect();
    assert!(
        alpha_in.iter().any(|a| *a < 250) && alpha_in.iter().any(|a| *a > 5),
        "fixture alpha varies"
    );
    let resized = image::imageops::resize(
        &image::GrayImage::from_raw(source.width(), source.height(), alpha_in).unwrap(),
        out.width(),
        out.height(),
        image::imageops::FilterType::CatmullRom,
    );
    let alpha_out: Vec<u8> = out.pixels().map(|p| p.0[3]).collect();
    assert!(psnr(&alpha_out, resized.as_raw()) > 60.0);
}

fn ws_name(name: &str) -> &'static str {
    match name {
        "gray16" => "gray16.png",
        "gray" => "gray.png",
        "alpha" => "alpha.png",
        "rgb16" => "rgb16.png",
        "coffee" => "coffee.jpg",
        "chelsea" => "chelsea.webp",
        _ => "rocket.tiff",
    }
}

/// A model without a sidecar gets its scale from a probe run.
#[test]
fn scale_is_probed_when_the_model_has_no_sidecar() {
    let ws = Workspace::new();
    ws.input(&[("golden/chelsea_61x47.png", "c.png")]);
    let bare = ws.path("bare-x4.onnx");
    std::fs::copy(util::model("realesr-animevideov3-x4.onnx"), &bare).unwrap();
    let pipeline = ws.pipeline(&format!(
        "stages:\n  - restore:\n      model: {}\n",
        bare.display()
    ));
    frameforge().arg("run").arg(&pipeline).assert().success();
    let out = image::open(ws.path("out/c.png")).unwrap();
    assert_eq!((out.width(), out.height()), (61 * 4, 47 * 4));
}

/// A still larger than one tile is shared out among every session of the pool (so a
/// lone large photo uses every core); each tile is still computed alone, so the result
/// is bit for bit one session's, for 8- and 16-bit images and through chained stages.
#[test]
fn a_still_shared_by_several_sessions_gives_one_sessions_result() {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "c.jpg"),
        ("images/rgb16.png", "r.png"),
    ]);
    let pipeline = ws.pipeline(
        "stages:\n  - restore:\n      model: {x2}\n      tile: 32\n      tile_overlap: 8\n  \
         - restore:\n      model: {x2}\n      tile: 48\n      tile_overlap: 8\n",
    );
    let mut results = Vec::new();
    for threads in ["1", "3"] {
        let run = ws.run(&pipeline, &["--force", "--threads", threads]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let coffee = image::open(ws.path("out/c.png")).unwrap();
        let rgb16 = image::open(ws.path("out/r.png")).unwrap();
        assert_eq!((coffee.width(), coffee.height()), (96 * 4, 64 * 4));
        assert!(matches!(rgb16, image::DynamicImage::ImageRgb16(_)));
        results.push((coffee.into_bytes(), rgb16.into_bytes()));
    }
    assert!(results[0] == results[1], "3 sessions differ from 1");
}

/// Every extension discovery picks up as an image is one the decoder reads: the same
/// picture saved in each format restores to the PNG's result (exactly where the format
/// is lossless, closely for JPEG).
#[test]
fn every_listed_image_format_is_decoded() {
    let ws = Workspace::new();
    ws.input(&[("golden/astronaut_96x80.png", "reference.png")]);
    let picture = image::open(ws.path("in/reference.png")).unwrap().to_rgb8();
    let formats: Vec<&str> = frameforge::config::IMAGE_EXTENSIONS
        .iter()
        .copied()
        .filter(|ext| *ext != "png")
        .collect();
    for ext in &formats {
        picture
            .save(ws.path(&format!("in/as-{ext}.{ext}")))
            .unwrap_or_else(|e| panic!("cannot write the {ext} copy: {e}"));
    }
    let pipeline = ws.pipeline("stages:\n  - restore:\n      model: {x2}\n      tile: 0\n");
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let reference = image::open(ws.path("out/reference.png")).unwrap().to_rgb8();
    for ext in &formats {
        let out = image::open(ws.path(&format!("out/as-{ext}.png")))
            .unwrap_or_else(|e| panic!("no output for .{ext}: {e}"))
            .to_rgb8();
        assert_eq!(out.dimensions(), reference.dimensions(), ".{ext} size");
        let p = psnr(out.as_raw(), reference.as_raw());
        let lossy = matches!(*ext, "jpg" | "jpeg");
        assert!(
            if lossy { p > 30.0 } else { out == reference },
            ".{ext}: PSNR {p:.1} dB against the PNG's result"
        );
    }
}

/// A little-endian EXIF block with a camera make and an orientation.
fn exif_block(make: &str, orientation: u16) -> Vec<u8> {
    let mut make = make.as_bytes().to_vec();
    make.push(0);
    let data_offset: u32 = 8 + 2 + 2 * 12 + 4;
    let mut block = b"II*\0".to_vec();
    block.extend(8u32.to_le_bytes());
    block.extend(2u16.to_le_bytes());
    // 0x010F Make, ASCII, stored after the directory.
    block.extend(0x010Fu16.to_le_bytes());
    block.extend(2u16.to_le_bytes());
    block.extend(u32::try_from(make.len()).unwrap().to_le_bytes());
    block.extend(data_offset.to_le_bytes());
    // 0x0112 Orientation, SHORT, inline.
    block.extend(0x0112u16.to_le_bytes());
    block.extend(3u16.to_le_bytes());
    block.extend(1u32.to_le_bytes());
    block.extend(orientation.to_le_bytes());
    block.extend([0, 0]);
    block.extend(0u32.to_le_bytes());
    block.extend(make);
    block
}

/// An ICC header naming `space` (`b"RGB "`, `b"GRAY"`); the body is a marker, since
/// only its bytes travel.
fn icc_profile(space: &[u8; 4]) -> Vec<u8> {
    let mut profile = vec![0u8; 132];
    profile[0..4].copy_from_slice(&132u32.to_be_bytes());
    profile[12..16].copy_from_slice(b"mntr");
    profile[16..20].copy_from_slice(space);
    profile[20..24].copy_from_slice(b"XYZ ");
    profile[36..40].copy_from_slice(b"acsp");
    profile
}

fn write_jpeg(picture: &image::RgbImage, path: &std::path::Path, exif: Vec<u8>, icc: Vec<u8>) {
    use image::ImageEncoder;
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(file, 95);
    encoder.set_exif_metadata(exif).unwrap();
    encoder.set_icc_profile(icc).unwrap();
    encoder
        .write_image(
            picture.as_raw(),
            picture.width(),
            picture.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
}

fn png_metadata(path: &std::path::Path) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    use image::ImageDecoder;
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut decoder = image::codecs::png::PngDecoder::new(file).unwrap();
    (
        decoder.icc_profile().unwrap(),
        decoder.exif_metadata().unwrap(),
    )
}

/// A camera JPEG stored sideways (EXIF orientation 6) comes out upright, as its viewer
/// showed it, with its EXIF (orientation now upright) and its RGB ICC profile; a profile
/// that does not describe RGB is not attached to RGB pixels, and that is warned about.
#[test]
fn camera_jpeg_comes_out_upright_with_its_exif_and_colour_profile() {
    let ws = Workspace::new();
    ws.input(&[("golden/astronaut_96x80.png", "source.png")]);
    let picture = image::open(ws.path("in/source.png")).unwrap().to_rgb8();
    std::fs::remove_file(ws.path("in/source.png")).unwrap();
    let rgb_profile = icc_profile(b"RGB ");
    write_jpeg(
        &picture,
        &ws.path("in/sideways.jpg"),
        exif_block("FrameForge Camera", 6),
        rgb_profile.clone(),
    );
    write_jpeg(
        &picture,
        &ws.path("in/gray-profile.jpg"),
        exif_block("FrameForge Camera", 1),
        icc_profile(b"GRAY"),
    );
    // The same stored pixels, turned by hand: what the sideways photo must become.
    let stored = image::open(ws.path("in/sideways.jpg")).unwrap().to_rgb8();
    image::imageops::rotate90(&stored)
        .save(ws.path("in/turned-by-hand.png"))
        .unwrap();
    let pipeline = ws.pipeline("stages:\n  - restore:\n      model: {x2}\n      tile: 0\n");
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let upright = image::open(ws.path("out/sideways.png")).unwrap().to_rgb8();
    let by_hand = image::open(ws.path("out/turned-by-hand.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(upright.dimensions(), (80 * 2, 96 * 2));
    assert!(upright == by_hand, "not turned as EXIF orientation 6 says");

    let (icc, exif) = png_metadata(&ws.path("out/sideways.png"));
    assert_eq!(icc.as_deref(), Some(rgb_profile.as_slice()));
    assert_eq!(exif, Some(exif_block("FrameForge Camera", 1)));
    let (icc, exif) = png_metadata(&ws.path("out/gray-profile.png"));
    assert_eq!(icc, None, "a GRAY profile was attached to RGB pixels");
    assert_eq!(exif, Some(exif_block("FrameForge Camera", 1)));
    let warning = "its ICC profile describes GRAY samples, not the RGB written, so it is left \
                   out and colours may shift";
    assert!(
        run.stderr.contains(&format!(
            "{}: {warning}",
            ws.path("in/gray-profile.jpg").display()
        )),
        "{}",
        run.stderr
    );
    let report = ws.report();
    let item = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["input"].as_str().unwrap().ends_with("gray-profile.jpg"))
        .unwrap();
    assert_eq!(item["warnings"], serde_json::json!([warning]));
}
