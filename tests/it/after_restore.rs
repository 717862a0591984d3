//! Filter stages after restoration: they see the restored frames (their size, rate and
//! time base), run in the pipeline's order with filters before restoration and with
//! restore stages in a row, and the output follows what the last of them makes: size,
//! pixel aspect, rate, frame times and length, with the audio kept in sync. A size the
//! encoder refuses is found at load when the filters fix it, else when the file is
//! opened.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::frame_rate::assert_follows_the_filters;
use crate::util;

use image::RgbImage;
use util::{decode_rgb, frame_times, max_diff, probe, psnr, streams_of, Workspace};

/// 2 s at 12 fps, 96×64: 24 H.264 frames, AAC, a SubRip track.
const CLIP: &str = "video/h264_aac_subs_chapters.mkv";

/// Lossless output in 4:4:4, so frames compare sample for sample.
const LOSSLESS: &str = "encode:\n  codec: ffv1\n  pixel_format: yuv444p\n  subtitles: drop\n";

/// Runs `stages` (YAML list items) on the clip into `out`, expecting success.
fn run(ws: &Workspace, out: &str, stages: &str, encode: &str) -> std::path::PathBuf {
    let pipeline = ws.pipeline_with("", out, &format!("device: cpu\nstages:\n{stages}{encode}"));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{stages}\n{}", run.stderr);
    let container = if encode.contains("container: mp4") {
        "mp4"
    } else {
        "mkv"
    };
    ws.path(&format!("{out}/clip.{container}"))
}

fn size_of(path: &std::path::Path) -> (u64, u64) {
    let video = &streams_of(&probe(path), "video")[0];
    (
        video["width"].as_u64().unwrap(),
        video["height"].as_u64().unwrap(),
    )
}

/// `image` without `left` columns on the left and `right` on the right.
fn columns(image: &RgbImage, left: u32, right: u32) -> RgbImage {
    image::imageops::crop_imm(image, left, 0, image.width() - left - right, image.height())
        .to_image()
}

/// A crop before restoration and a pad after it: the pad sees the restored frames
/// (2 × 80 wide, then 16 more), the picture inside it is the restored one sample for
/// sample, the added columns are black, and every frame keeps its time.
#[test]
fn filters_run_before_and_after_restoration_in_their_order() {
    let ws = Workspace::new();
    ws.input(&[(CLIP, "clip.mkv")]);
    let crop = "  - filter: \"crop=80:64:0:0\"\n";
    let restore = "  - restore:\n      model: {x2}\n      tile: 0\n";
    let pad = "  - filter: \"pad=iw+16:ih:8:0\"\n";
    let restored = run(&ws, "restored", &format!("{crop}{restore}"), LOSSLESS);
    let padded = run(&ws, "padded", &format!("{crop}{restore}{pad}"), LOSSLESS);
    assert_eq!(size_of(&restored), (160, 128));
    assert_eq!(size_of(&padded), (176, 128));
    assert_eq!(frame_times(&padded), frame_times(&restored));
    let (plain, with_pad) = (decode_rgb(&restored), decode_rgb(&padded));
    assert_eq!(with_pad.len(), 24);
    for (index, (plain, with_pad)) in plain.iter().zip(&with_pad).enumerate() {
        let inside = columns(with_pad, 8, 8);
        let diff = max_diff(inside.as_raw(), plain.as_raw());
        assert!(diff <= 1, "frame {index}: inside the pad differs by {diff}");
        for border in [columns(with_pad, 0, 168), columns(with_pad, 168, 0)] {
            let brightest = border.as_raw().iter().max().copied().unwrap();
            assert!(
                brightest <= 1,
                "frame {index}: a padded column reads {brightest}"
            );
        }
    }
}

/// Grain added back after restoration, as `film-scans.yaml` does: every frame is the
/// restored picture (PSNR 25–45 dB against it) with grain that changes from frame to
/// frame (temporal noise), at the restored size and the same times.
#[test]
fn grain_after_restoration_changes_from_frame_to_frame() {
    let ws = Workspace::new();
    ws.input(&[(CLIP, "clip.mkv")]);
    let restore = "  - restore:\n      model: {x2}\n      tile: 0\n";
    let grain = "  - filter: \"noise=alls=8:allf=t\"\n";
    let restored = run(&ws, "restored", restore, LOSSLESS);
    let grainy = run(&ws, "grainy", &format!("{restore}{grain}"), LOSSLESS);
    assert_eq!(size_of(&grainy), (192, 128));
    assert_eq!(frame_times(&grainy), frame_times(&restored));
    let (plain, grainy) = (decode_rgb(&restored), decode_rgb(&grainy));
    assert_eq!(grainy.len(), 24);
    let grain_of = |index: usize| -> Vec<i16> {
        plain[index]
            .as_raw()
            .iter()
            .zip(grainy[index].as_raw())
            .map(|(a, b)| i16::from(*b) - i16::from(*a))
            .collect()
    };
    for (index, (plain, grainy)) in plain.iter().zip(&grainy).enumerate() {
        let quality = psnr(plain.as_raw(), grainy.as_raw());
        assert!(
            (25.0..45.0).contains(&quality),
            "frame {index}: {quality:.1} dB against the restored frame"
        );
    }
    assert_ne!(
        grain_of(0),
        grain_of(1),
        "the grain is the same in two frames"
    );
}

/// A rate change after restoration (`fps=25` from 12), into Matroska and MP4: the
/// output states 25 fps, has 50 frames one frame apart, ends where the source does,
/// and keeps the audio where it was; the frames are the restored size.
#[test]
fn a_rate_change_after_restoration_sets_the_output_rate() {
    let ws = Workspace::new();
    ws.input(&[(CLIP, "clip.mkv")]);
    let stages = "  - restore:\n      model: {x2}\n      tile: 0\n  - filter: \"fps=25\"\n";
    for container in ["mkv", "mp4"] {
        let encode =
            format!("encode:\n  container: {container}\n  codec: libx264\n  subtitles: drop\n");
        let output = run(&ws, &format!("out-{container}"), stages, &encode);
        assert_eq!(size_of(&output), (192, 128), "{container}");
        assert_follows_the_filters(&ws.path("in/clip.mkv"), &output, "25/1", 50);
    }
}

/// Motion interpolation at the restored size (12 fps to 24, padded so it reaches the
/// last frame): 48 frames at 24 fps over the source's length.
#[test]
fn motion_interpolation_after_restoration_keeps_the_length() {
    let ws = Workspace::new();
    ws.input(&[(CLIP, "clip.mkv")]);
    let stages = "  - restore:\n      model: {x2}\n      tile: 0\n  - filter: \
                  \"tpad=stop_mode=clone:stop=2,minterpolate=fps=24:mi_mode=mci\"\n";
    let output = run(&ws, "out", stages, "encode:\n  subtitles: drop\n");
    assert_eq!(size_of(&output), (192, 128));
    assert_follows_the_filters(&ws.path("in/clip.mkv"), &output, "24/1", 48);
}

/// A delivery size after restoration (half the restored size) that the encoder
/// refuses for one file only, 241×135 from a 241×135 source: that file fails when it is
/// opened, naming the size and a last filter that fixes it; the even one is written at
/// the delivery size.
#[test]
fn a_size_after_restoration_the_encoder_refuses_fails_its_file_with_the_fix() {
    let ws = Workspace::new();
    ws.input(&[
        ("video/odd_241x135.mkv", "odd.mkv"),
        ("video/ffv1.mkv", "even.mkv"),
    ]);
    let pipeline = ws.pipeline(
        "device: cpu\nstages:\n  - restore:\n      model: {x2}\n      tile: 0\n  - filter: \
         \"scale=iw/2:ih/2\"\n",
    );
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        ws.failure_lines(&run.stderr, "odd.mkv"),
        [format!(
            "{}: libx264 cannot encode 241x135 frames in yuv420p (width not divisible by 2 \
             (241x135)); it takes widths and heights that are multiples of 2; a last stage \
             `filter: \"scale=trunc(iw/2)*2:trunc(ih/2)*2\"` makes such sizes",
            ws.path("in/odd.mkv").display()
        )],
        "{}",
        run.stderr
    );
    assert_eq!(ws.outputs(), ["even.mkv"]);
    assert_eq!(size_of(&ws.path("out/even.mkv")), (96, 64));
}

/// A squeeze after restoration (half the width, as anamorphic delivery does): the
/// scale filter gives the frames a 2:1 pixel aspect, which the output states, so the
/// picture still shows at the source's 3:2.
#[test]
fn the_pixel_aspect_after_restoration_is_the_outputs() {
    let ws = Workspace::new();
    ws.input(&[(CLIP, "clip.mkv")]);
    let stages = "  - restore:\n      model: {x2}\n      tile: 0\n  - filter: \"scale=iw/2:ih\"\n";
    let output = run(&ws, "out", stages, "encode:\n  subtitles: drop\n");
    let video = &streams_of(&probe(&output), "video")[0];
    assert_eq!(size_of(&output), (96, 128));
    assert_eq!(video["sample_aspect_ratio"], "2:1");
    assert_eq!(video["display_aspect_ratio"], "3:2");
}

/// Restore stages in a row, between filters: a ×4 model delivered at ×1 (a clean-up
/// pass at the source's size), then a ×2 model, then grain. The output is ×2 of the
/// source with every frame at its time, and the ×1 pass is not the identity: the
/// result differs from the ×2 model alone.
#[test]
fn a_clean_up_pass_at_one_times_then_a_second_model_then_a_filter() {
    let ws = Workspace::new();
    ws.input(&[(CLIP, "clip.mkv")]);
    let clean_up = "  - restore:\n      model: {x4}\n      scale: 1\n      tile: 0\n";
    let restore = "  - restore:\n      model: {x2}\n      tile: 0\n";
    let sharpen = "  - filter: \"unsharp=5:5:0.5\"\n";
    let alone = run(&ws, "alone", &format!("{restore}{sharpen}"), LOSSLESS);
    let chained = run(
        &ws,
        "chained",
        &format!("{clean_up}{restore}{sharpen}"),
        LOSSLESS,
    );
    assert_eq!(size_of(&chained), (192, 128));
    assert_eq!(frame_times(&chained), frame_times(&alone));
    let (alone, chained) = (decode_rgb(&alone), decode_rgb(&chained));
    assert_eq!(chained.len(), 24);
    let quality = psnr(alone[0].as_raw(), chained[0].as_raw());
    assert!(
        (20.0..50.0).contains(&quality),
        "the clean-up pass changed the picture by {quality:.1} dB"
    );
}

/// The report's "after" picture is what the output holds: with the colour taken out
/// after restoration (`hue=s=0`), it is gray while the "before" is not.
#[test]
fn the_reports_after_picture_is_the_filtered_output() {
    let ws = Workspace::new();
    ws.input(&[(CLIP, "clip.mkv")]);
    let stages = "  - restore:\n      model: {x2}\n      tile: 0\n  - filter: \"hue=s=0\"\n";
    run(&ws, "out", stages, LOSSLESS);
    let html = std::fs::read_to_string(ws.path("out/report.html")).unwrap();
    let rows = crate::util::html::item_rows(&html);
    let colourfulness = |image: &RgbImage| {
        image
            .pixels()
            .map(|p| {
                let [r, g, b] = p.0.map(i16::from);
                (r - g).abs().max((g - b).abs()).max((r - b).abs())
            })
            .max()
            .unwrap_or(0)
    };
    let before = colourfulness(&rows[0].picture("before").image);
    let after = colourfulness(&rows[0].picture("after").image);
    assert!(before > 40, "the source crop is not colourful: {before}");
    assert!(after <= 2, "the after crop has colour: {after}");
}
