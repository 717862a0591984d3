//! The recipes in `pipelines/`, each run as shipped (only its input and output folders
//! moved) on a short fixture of the source it is written for (`fixtures/recipes/`,
//! made by `tools/make_recipe_fixtures.sh`), checking the facts that matter for that
//! source: progressive output, the display aspect, the output rate and duration, the
//! audio kept in step.

use std::path::{Path, PathBuf};

use crate::frame_rate::{audio_span, video_end};
use crate::util::{decode_rgb, frame_times, probe, root, streams_of, Workspace};

/// `pipelines/NAME.yaml` with its `../` paths made absolute and its output in `ws/out`,
/// written into the workspace.
fn recipe_in(ws: &Workspace, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join(format!("pipelines/{name}.yaml"))).unwrap();
    let out = format!("../out/{name}");
    assert!(text.contains(&out), "{name}.yaml does not write to {out}");
    let moved = text
        .replace(&out, &ws.path("out").display().to_string())
        .replace("../", &format!("{}/", root().display()));
    let path = ws.path(&format!("{name}.yaml"));
    std::fs::write(&path, moved).unwrap();
    path
}

/// Runs the recipe and gives the one output's path.
fn run_recipe(name: &str, output: &str) -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    let pipeline = recipe_in(&ws, name);
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{name}:\n{}", run.stderr);
    let path = ws.path(&format!("out/{output}"));
    assert!(path.exists(), "{name}: no {output}:\n{}", run.stderr);
    (ws, path)
}

fn video(path: &Path) -> serde_json::Value {
    streams_of(&probe(path), "video").remove(0)
}

fn text(stream: &serde_json::Value, key: &str) -> String {
    stream[key].as_str().unwrap_or_default().to_string()
}

fn seconds(value: &serde_json::Value) -> f64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The container's duration in seconds.
fn duration(path: &Path) -> f64 {
    seconds(&probe(path)["format"]["duration"])
}

/// The audio starts where it did and ends within one audio frame (AAC's 1024 samples)
/// of where it did: MP4 trims the last frame's padding by its edit list, Matroska
/// cannot say that.
fn assert_audio_kept(source: &Path, output: &Path) {
    let ((_, start, end), (_, kept_start, kept_end)) = (audio_span(source), audio_span(output));
    assert!(
        (start - kept_start).abs() < 0.0015 && (end - kept_end).abs() < 0.022,
        "audio moved: {start:.4}–{end:.4} s in the source, {kept_start:.4}–{kept_end:.4} s in \
         the output"
    );
}

/// How interlaced a frame looks: the mean of |p(y) − (p(y−1) + p(y+1)) / 2| over the
/// green channel; combing makes neighbouring lines disagree.
fn combing(frame: &image::RgbImage) -> f64 {
    let (w, h) = frame.dimensions();
    let mut sum = 0.0;
    for y in 1..h - 1 {
        for x in 0..w {
            let at = |y: u32| f64::from(frame.get_pixel(x, y)[1]);
            sum += (at(y) - (at(y - 1) + at(y + 1)) / 2.0).abs();
        }
    }
    sum / f64::from(w * (h - 2))
}

fn mean_combing(path: &Path) -> f64 {
    let frames = decode_rgb(path);
    frames.iter().map(combing).sum::<f64>() / frames.len() as f64
}

#[test]
fn film_scans_come_out_at_24_fps_over_the_films_duration() {
    let source = root().join("fixtures/recipes/film/reel16.mkv");
    let (_ws, output) = run_recipe("film-scans", "reel16.mkv");
    let stream = video(&output);
    assert_eq!(text(&stream, "r_frame_rate"), "24/1");
    assert_eq!(text(&stream, "avg_frame_rate"), "24/1");
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(176), Some(120))
    );
    // 24 frames at 16 fps are 1.5 s: 36 frames at 24 fps.
    let times = frame_times(&output);
    assert_eq!(times.len(), 36, "{times:?}");
    assert!((duration(&output) - duration(&source)).abs() <= 1.0 / 24.0 + 0.001);
    assert_audio_kept(&source, &output);
}

#[test]
fn vhs_captures_come_out_progressive_at_the_field_rate_in_4_3_with_the_bottom_masked() {
    let source = root().join("fixtures/recipes/vhs/tape.mpg");
    let (_ws, output) = run_recipe("vhs-captures", "tape.mkv");
    let stream = video(&output);
    assert_eq!(text(&stream, "field_order"), "progressive");
    assert_eq!(text(&stream, "display_aspect_ratio"), "4:3");
    assert_eq!(text(&stream, "r_frame_rate"), "50/1");
    // 12 interlaced frames are 24 fields: 24 frames.
    assert_eq!(frame_times(&output).len(), 24);
    let (source_combing, output_combing) = (mean_combing(&source), mean_combing(&output));
    println!("combing: {source_combing:.2} in the capture, {output_combing:.2} restored");
    assert!(output_combing < source_combing / 3.0);
    // The head-switching band (8 lines, 16 at ×2) is black, not noise.
    for frame in decode_rgb(&output) {
        let h = frame.height();
        let band = (h - 14..h).flat_map(|y| (0..frame.width()).map(move |x| (x, y)));
        let brightest = band
            .map(|(x, y)| frame.get_pixel(x, y).0.into_iter().max().unwrap_or(0))
            .max();
        assert!(
            brightest.unwrap_or(0) <= 24,
            "bottom band reaches {brightest:?}"
        );
    }
    // The source's 0.48 s from its first field to its end, at its own start time (MKV
    // states no duration of its own: its container duration is the end time).
    let times = frame_times(&output);
    let span = times[times.len() - 1] + 1.0 / 50.0 - times[0];
    assert!((span - 0.48).abs() <= 0.021, "{times:?}");
    assert!(
        (times[0] - frame_times(&source)[0]).abs() < 0.001,
        "{times:?}"
    );
    assert_audio_kept(&source, &output);
}

#[test]
fn dv_captures_keep_the_anamorphic_aspect_and_come_out_progressive() {
    let source = root().join("fixtures/recipes/dv/interview.dv");
    let (_ws, output) = run_recipe("dv-captures", "interview.mkv");
    let stream = video(&output);
    assert_eq!(text(&stream, "field_order"), "progressive");
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(1440), Some(1152))
    );
    assert_eq!(text(&stream, "sample_aspect_ratio"), "64:45");
    assert_eq!(text(&stream, "display_aspect_ratio"), "16:9");
    assert_eq!(frame_times(&output).len(), 2);
    assert_audio_kept(&source, &output);
}

#[test]
fn web_video_is_deblocked_and_restored_at_its_rate() {
    let source = root().join("fixtures/recipes/web/clip.mp4");
    let (_ws, output) = run_recipe("web-video", "clip.mkv");
    let stream = video(&output);
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(256), Some(192))
    );
    assert_eq!(text(&stream, "r_frame_rate"), "24/1");
    let (restored, original) = (frame_times(&output), frame_times(&source));
    assert_eq!(restored.len(), original.len());
    assert!(
        restored
            .iter()
            .zip(&original)
            .all(|(a, b)| (a - b).abs() < 0.001),
        "{restored:?} {original:?}"
    );
    assert_audio_kept(&source, &output);
}

#[test]
fn photo_scans_come_out_as_png_at_four_times_the_size() {
    let (_ws, output) = run_recipe("photo-scans", "print.png");
    let image = image::open(&output).unwrap();
    assert_eq!((image.width(), image.height()), (384, 256));
}

/// Spread of the green channel over the sky above the shape (its top quarter): how
/// far flat colour has been broken up (by compression ringing, or by a model that
/// paints texture in).
fn sky_spread(frame: &image::RgbImage) -> f64 {
    let (w, h) = frame.dimensions();
    let values: Vec<f64> = (0..h / 4)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| f64::from(frame.get_pixel(x, y)[1]))
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

#[test]
fn animation_is_restored_at_twice_the_size_with_flat_colour_kept_flat() {
    let source = root().join("fixtures/recipes/animation/cel.mkv");
    let (_ws, output) = run_recipe("restore-animation", "cel.mkv");
    let stream = video(&output);
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(192), Some(128))
    );
    assert_eq!(frame_times(&output), frame_times(&source));
    let (restored, original) = (decode_rgb(&output), decode_rgb(&source));
    let spread = |frames: &[image::RgbImage]| frames.iter().map(sky_spread).fold(0.0, f64::max);
    let (before, after) = (spread(&original), spread(&restored));
    println!("sky spread: {before:.2} in the source, {after:.2} restored");
    // Flat stays flat: under one level of spread (no texture painted into the sky).
    assert!(after < 1.0, "{after:.2} against {before:.2}");
    assert_audio_kept(&source, &output);
}

/// The archive captioning recipe on the caption fixtures: nothing re-encoded, one
/// caption per shot of the video (its four 2 s shots) in WebVTT marked as
/// descriptions, a caption per image, and every caption found by `frameforge search`.
#[test]
fn an_archive_is_captioned_per_shot_and_per_image_and_searchable() {
    let (ws, vtt) = run_recipe("caption-archive", "shapes.vtt");
    assert_eq!(
        ws.outputs(),
        [
            "captions.jsonl",
            "shapes.captions.json",
            "shapes.srt",
            "shapes.vtt",
            "stills/blurry_green_square.captions.json",
            "stills/blurry_green_square.txt",
            "stills/bw_cross_star.captions.json",
            "stills/bw_cross_star.txt",
            "stills/purple_star.captions.json",
            "stills/purple_star.txt",
        ]
    );
    let cues = std::fs::read_to_string(&vtt).unwrap();
    assert!(cues.starts_with("WEBVTT\nKind: descriptions\n"), "{cues}");
    let starts: Vec<&str> = cues
        .lines()
        .filter_map(|line| line.split(" --> ").next().filter(|_| line.contains("-->")))
        .collect();
    assert_eq!(
        starts,
        [
            "00:00:00.000",
            "00:00:02.000",
            "00:00:04.000",
            "00:00:06.000"
        ]
    );
    let index = std::fs::read_to_string(ws.path("out/captions.jsonl")).unwrap();
    assert_eq!(index.lines().count(), 4 + 3);
    for line in index.lines() {
        let caption: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = caption["text"].as_str().unwrap();
        let source = caption["source"].as_str().unwrap();
        let output = crate::util::frameforge()
            .args(["search", "--json", "--limit", "100"])
            .arg(ws.path("out"))
            .args(text.split(' '))
            .output()
            .unwrap();
        let hits: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
        assert!(
            hits.iter().any(|hit| hit["caption"] == text
                && source.ends_with(hit["input"].as_str().unwrap_or("?"))),
            "{text:?} from {source}: {hits:?}"
        );
    }
}

/// The README's main job: reels of mixed material and their stills. The interlaced
/// MPEG-2 reel (flagged top field first) comes out progressive, every output at twice
/// the size with the source's frame count and audio, the stills as PNG.
#[test]
fn mixed_reels_are_deinterlaced_where_flagged_and_restored_at_twice_the_size() {
    let (ws, reel2) = run_recipe("restore-film", "reel2.mkv");
    assert_eq!(
        ws.outputs(),
        [
            "reel1.mkv",
            "reel2.mkv",
            "stills/frame_001.png",
            "stills/scan.png"
        ]
    );
    for (source, output) in [("reel1.mkv", "reel1.mkv"), ("reel2.mpg", "reel2.mkv")] {
        let (source, output) = (
            root().join("fixtures/film").join(source),
            ws.path(&format!("out/{output}")),
        );
        let (stream, original) = (video(&output), video(&source));
        assert_eq!(
            (stream["width"].as_u64(), stream["height"].as_u64()),
            (
                original["width"].as_u64().map(|w| w * 2),
                original["height"].as_u64().map(|h| h * 2)
            ),
            "{}",
            output.display()
        );
        assert_eq!(frame_times(&output).len(), frame_times(&source).len());
        assert_audio_kept(&source, &output);
    }
    assert_eq!(
        text(
            &video(&root().join("fixtures/film/reel2.mpg")),
            "field_order"
        ),
        "tt"
    );
    assert_eq!(text(&video(&reel2), "field_order"), "progressive");
    let scan = image::open(ws.path("out/stills/scan.png")).unwrap();
    let source = image::open(root().join("fixtures/film/stills/scan.jpg")).unwrap();
    assert_eq!(
        (scan.width(), scan.height()),
        (source.width() * 2, source.height() * 2)
    );
}

/// Interpolation as shipped, on the same reels (12 fps): 24 fps, twice the frames within
/// one (a source whose end falls on the 24 fps grid, reel 2 at 0.583 … 2.583 s, gets a
/// frame at its end time from the padding), the source's length within a frame, the
/// audio where it was.
#[test]
fn interpolated_reels_come_out_at_24_fps_over_their_length() {
    let (ws, _) = run_recipe("interpolate-film", "reel1.mkv");
    for (source, output) in [("reel1.mkv", "reel1.mkv"), ("reel2.mpg", "reel2.mkv")] {
        let (source, output) = (
            root().join("fixtures/film").join(source),
            ws.path(&format!("out/{output}")),
        );
        let stream = video(&output);
        assert_eq!(
            text(&stream, "r_frame_rate"),
            "24/1",
            "{}",
            output.display()
        );
        let (frames, source_frames) = (frame_times(&output).len(), frame_times(&source).len());
        assert!(
            frames.abs_diff(2 * source_frames) <= 1,
            "{frames} frames from {source_frames}"
        );
        let (end, source_end) = (video_end(&output), video_end(&source));
        assert!(
            (end - source_end).abs() <= 1.0 / 24.0 + 0.001,
            "ends at {end:.3} s, the source at {source_end:.3} s"
        );
        assert_audio_kept(&source, &output);
    }
}
