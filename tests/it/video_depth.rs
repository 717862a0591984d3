//! Deep video keeps its depth: a 10- or 16-bit source goes through the stages at 16 bits
//! a sample, not cut to 8 on the way (which costs up to two 10-bit codes of every sample
//! and puts steps into smooth gradients of film scans).
//!
//! Sources are made here with the ffmpeg CLI as lossless FFV1, and outputs are written as
//! FFV1 too, so every difference measured is FrameForge's own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::path::Path;

use util::{ffmpeg, fixture, Workspace};

/// The first picture of `path` as raw little-endian 16-bit samples of `pixel_format`.
fn samples(path: &Path, pixel_format: &str) -> Vec<u16> {
    let raw = ffmpeg([
        "-i".as_ref(),
        path.as_os_str(),
        "-frames:v".as_ref(),
        "1".as_ref(),
        "-f".as_ref(),
        "rawvideo".as_ref(),
        "-pix_fmt".as_ref(),
        pixel_format.as_ref(),
        "-".as_ref(),
    ]);
    raw.chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

/// A 16-bit RGB video restored by the model equals, sample for sample, the same picture
/// restored as a 16-bit still: both run the model on the same 16-bit tiles.
#[test]
fn a_16_bit_video_is_restored_at_16_bits_like_a_16_bit_still() {
    let ws = Workspace::new();
    ws.input(&[("images/rgb16.png", "still/picture.png")]);
    std::fs::create_dir_all(ws.path("in/video")).unwrap();
    let video = ws.path("in/video/picture.mkv");
    let source = fixture("images/rgb16.png");
    ffmpeg([
        "-i".as_ref(),
        source.as_os_str(),
        "-c:v".as_ref(),
        "ffv1".as_ref(),
        "-level".as_ref(),
        "3".as_ref(),
        "-pix_fmt".as_ref(),
        "gbrp16le".as_ref(),
        video.as_os_str(),
    ]);
    let pipeline = ws.pipeline(
        "stages:\n  - restore:\n      model: {x2}\n      tile: 32\n      tile_overlap: 8\n\
         encode:\n  codec: ffv1\n  pixel_format: gbrp16le\n",
    );
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let from_video = samples(&ws.path("out/video/picture.mkv"), "rgb48le");
    let from_still = samples(&ws.path("out/still/picture.png"), "rgb48le");
    assert_eq!(from_video.len(), 80 * 2 * 64 * 2 * 3);
    let worst = from_video
        .iter()
        .zip(&from_still)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert_eq!(worst, 0, "video and still differ by up to {worst} of 65535");
}

/// A 10-bit 4:4:4 gradient through a pass-through filter comes back with every sample
/// exactly as it was (through 8-bit RGB it was off by up to 2 codes).
#[test]
fn a_10_bit_video_keeps_every_level_through_the_rgb_stages() {
    let ws = Workspace::new();
    let (width, height) = (96usize, 64usize);
    // A smooth ramp over 120 luma codes (30 8-bit levels) with slowly varying chroma.
    let plane = |value: &dyn Fn(usize, usize) -> usize| -> Vec<u8> {
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| u16::try_from(value(x, y)).unwrap().to_le_bytes())
            .collect()
    };
    let mut raw = plane(&|x, y| 400 + x * 120 / (width - 1) + y % 2);
    raw.extend(plane(&|_, y| 480 + y * 40 / (height - 1)));
    raw.extend(plane(&|x, _| 540 - x * 30 / (width - 1)));
    let raw_path = ws.path("ramp.yuv");
    std::fs::write(&raw_path, &raw).unwrap();
    std::fs::create_dir_all(ws.path("in")).unwrap();
    let source = ws.path("in/ramp.mkv");
    ffmpeg([
        "-f".as_ref(),
        "rawvideo".as_ref(),
        "-pix_fmt".as_ref(),
        "yuv444p10le".as_ref(),
        "-s".as_ref(),
        "96x64".as_ref(),
        "-r".as_ref(),
        "12".as_ref(),
        "-i".as_ref(),
        raw_path.as_os_str(),
        "-c:v".as_ref(),
        "ffv1".as_ref(),
        "-color_range".as_ref(),
        "tv".as_ref(),
        "-colorspace".as_ref(),
        "bt709".as_ref(),
        source.as_os_str(),
    ]);
    let pipeline = ws.pipeline("stages:\n  - filter: \"null\"\nencode:\n  codec: ffv1\n");
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let before = samples(&source, "yuv444p10le");
    let after = samples(&ws.path("out/ramp.mkv"), "yuv444p10le");
    assert_eq!(before.len(), after.len());
    let worst = before
        .iter()
        .zip(&after)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert_eq!(worst, 0, "10-bit samples changed by up to {worst} codes");
}
