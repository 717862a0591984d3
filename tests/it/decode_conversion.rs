//! The two YUV→RGB conversions of the decode side: the fast one used for frames that are
//! only captioned stays within a level or two of the exact one used for restoration, for
//! each colour matrix and range (so a shot-change score or a caption does not depend on
//! which one ran). Asking for NVDEC gives the CPU decoder's frames: NVDEC's where it
//! runs (H.264 decoding is exact), the CPU's where it cannot open.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use frameforge::config::VideoDecoder;
use frameforge::media::decode::{SourceItem, VideoSource};
use frameforge::media::decode_graph::RgbConversion;
use frameforge::media::layout::CopyPolicy;
use image::RgbImage;
use util::{fixture, psnr};

fn frames(name: &str, conversion: RgbConversion) -> Vec<RgbImage> {
    frames_by(name, conversion, VideoDecoder::Software)
}

fn frames_by(name: &str, conversion: RgbConversion, decoder: VideoDecoder) -> Vec<RgbImage> {
    let policy = CopyPolicy {
        audio: false,
        subtitles: false,
    };
    let (mut source, _) =
        VideoSource::open(&fixture(name), &[], conversion, policy, decoder).unwrap();
    let mut frames = Vec::new();
    while let Some(item) = source.next_item().unwrap() {
        if let SourceItem::Frame(frame) = item {
            frames.push(frame.image.to_eight().into_owned());
        }
    }
    frames
}

fn mean_channel_difference(a: &RgbImage, b: &RgbImage) -> [f64; 3] {
    let mut sums = [0.0f64; 3];
    for (pa, pb) in a.pixels().zip(b.pixels()) {
        for c in 0..3 {
            sums[c] += f64::from(pa[c]) - f64::from(pb[c]);
        }
    }
    let n = f64::from(a.width() * a.height());
    sums.map(|s| s / n)
}

#[test]
fn fast_conversion_matches_the_exact_one_within_two_levels() {
    for name in [
        "video/flat_bt601.mkv",
        "video/flat_bt709.mkv",
        "video/flat_bt709_full.mkv",
        "video/h264_aac_subs_chapters.mkv",
    ] {
        let exact = frames(name, RgbConversion::Exact);
        let fast = frames(name, RgbConversion::Fast);
        assert_eq!(exact.len(), fast.len(), "{name}: frame counts");
        assert!(!exact.is_empty(), "{name}: no frames");
        for (i, (e, f)) in exact.iter().zip(&fast).enumerate() {
            assert_eq!(e.dimensions(), f.dimensions());
            let db = psnr(e.as_raw(), f.as_raw());
            let shift = mean_channel_difference(e, f);
            assert!(
                shift.iter().all(|d| d.abs() <= 2.0),
                "{name} frame {i}: mean channel shift {shift:?}"
            );
            assert!(db >= 35.0, "{name} frame {i}: {db:.1} dB");
        }
        let db = psnr(exact[0].as_raw(), fast[0].as_raw());
        let shift = mean_channel_difference(&exact[0], &fast[0]);
        println!(
            "{name}: {} frames compared; first: {db:.1} dB, mean shift {shift:?}",
            exact.len()
        );
    }
}

#[test]
fn nvdec_gives_the_frames_the_cpu_decoder_gives() {
    // H.264 (NVDEC reads it, or cannot open here and the CPU decodes) and FFV1 (which
    // NVDEC does not read).
    for name in ["video/h264_aac_subs_chapters.mkv", "video/ffv1.mkv"] {
        let cpu = frames(name, RgbConversion::Exact);
        let nvdec = frames_by(name, RgbConversion::Exact, VideoDecoder::Nvdec);
        assert!(!cpu.is_empty(), "{name}");
        assert_eq!(cpu.len(), nvdec.len(), "{name}: frame count");
        for (index, (a, b)) in cpu.iter().zip(&nvdec).enumerate() {
            assert_eq!(a, b, "{name} frame {index}");
        }
    }
}
