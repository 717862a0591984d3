//! Restored videos checked at the ffprobe level: size, frame count and duration for
//! every codec fixture, source timestamps (VFR and non-zero starts), copied audio and
//! subtitle streams with their metadata and chapters, rotation and pixel aspect, the
//! encode options, and colour (matrix and range) round trips.
//!
//! Every test runs the real binary on committed fixtures in a temporary workspace and
//! compares the output with its source through ffprobe/ffmpeg, with tolerances.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use crate::util;

use std::path::Path;

use serde_json::Value;
use util::{
    decode_rgb, ffmpeg, fixture, frame_times, frameforge, probe, probe_with, psnr, ratio, seconds,
    streams_of, Workspace,
};

/// The stage list of every run: the ×2 model on whole frames (fast on small clips).
const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// The result of one `frameforge run`.
struct Run {
    ws: Workspace,
    code: i32,
    stderr: String,
}

impl Run {
    /// Copies `files` (fixture path, name under `in/`) and runs `stages` + `extra` YAML.
    fn new(files: &[(&str, &str)], stages: &str, extra: &str) -> Self {
        let ws = Workspace::new();
        ws.input(files);
        let pipeline = ws.pipeline(&format!("{stages}{extra}"));
        let output = frameforge().arg("run").arg(&pipeline).output().unwrap();
        Self {
            ws,
            code: output.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Restores `files` with the ×2 model and `extra` YAML, expecting every file to finish.
    fn restore(files: &[(&str, &str)], extra: &str) -> Self {
        let run = Self::new(files, RESTORE_X2, extra);
        assert_eq!(run.code, 0, "frameforge failed:\n{}", run.stderr);
        run
    }

    fn input(&self, name: &str) -> std::path::PathBuf {
        self.ws.path(&format!("in/{name}"))
    }

    fn output(&self, name: &str) -> std::path::PathBuf {
        self.ws.path(&format!("out/{name}"))
    }
}

/// The first video stream of a probe.
fn video(probe: &Value) -> Value {
    streams_of(probe, "video")
        .into_iter()
        .next()
        .expect("a video stream")
}

fn size(stream: &Value) -> (u64, u64) {
    (
        stream["width"].as_u64().unwrap(),
        stream["height"].as_u64().unwrap(),
    )
}

/// The nominal frame rate of a video stream: the average, else ffprobe's base rate.
fn frame_rate(stream: &Value) -> f64 {
    ratio(&stream["avg_frame_rate"])
        .or_else(|| ratio(&stream["r_frame_rate"]))
        .expect("a frame rate")
}

/// Seconds of one tick of a stream's time base.
fn tick(stream: &Value) -> f64 {
    ratio(&stream["time_base"]).expect("a time base")
}

/// How long the first video stream lasts: from its first frame to the end of its last
/// (the last frame's own duration, else one nominal frame).
fn video_duration(path: &Path) -> f64 {
    let times = frame_times(path);
    let json = probe_with(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pkt_duration_time",
        ],
    );
    let durations: Vec<Option<f64>> = json["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| seconds(&f["pkt_duration_time"]).filter(|d| *d > 0.0))
        .collect();
    assert_eq!(durations.len(), times.len());
    let nominal = 1.0 / frame_rate(&video(&probe(path)));
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let (last, _) = times
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    times[last] + durations[last].unwrap_or(nominal) - first
}

/// Packets of one stream: (pts seconds, duration seconds, size bytes), in file order.
fn packets(path: &Path, stream_index: u64) -> Vec<(f64, f64, u64)> {
    let json = probe_with(
        path,
        &[
            "-select_streams",
            &stream_index.to_string(),
            "-show_entries",
            "packet=pts_time,duration_time,size",
            "-show_packets",
        ],
    );
    json["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                seconds(&p["pts_time"]).unwrap_or(f64::NAN),
                seconds(&p["duration_time"]).unwrap_or(0.0),
                p["size"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn tag<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value["tags"][key].as_str()
}

fn display_rotation(stream: &Value) -> Option<f64> {
    stream["side_data_list"]
        .as_array()?
        .iter()
        .find_map(|sd| sd["rotation"].as_f64())
}

// ---------------------------------------------------------------------------------------
// 1. Codec matrix: size ×2, every frame, same duration.

/// Restores one fixture into mkv and checks size, frame count and duration against it.
fn check_codec(fixture_path: &str) {
    let name = Path::new(fixture_path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
    let run = Run::restore(&[(fixture_path, name)], "");
    let (source, output) = (run.input(name), run.output(&format!("{stem}.mkv")));
    let (source_probe, output_probe) = (probe(&source), probe(&output));
    assert!(
        output_probe["format"]["format_name"]
            .as_str()
            .unwrap()
            .contains("matroska"),
        "{name}: output is not Matroska"
    );
    let (source_video, output_video) = (video(&source_probe), video(&output_probe));
    let (w, h) = size(&source_video);
    assert_eq!(size(&output_video), (2 * w, 2 * h), "{name}: output size");

    let (source_times, output_times) = (frame_times(&source), frame_times(&output));
    assert_eq!(
        output_times.len(),
        source_times.len(),
        "{name}: decoded frame count"
    );

    // Colour tags the source states are kept as they are (an untagged source gets the
    // tags of the matrix that was assumed, so only stated ones are compared).
    for key in COLOUR_TAGS {
        if source_video[key].is_string() && source_video[key] != "unknown" {
            assert_eq!(output_video[key], source_video[key], "{name}: {key}");
        }
    }

    let frame = 1.0 / frame_rate(&source_video);
    let (source_duration, output_duration) = (video_duration(&source), video_duration(&output));
    println!(
        "{name}: {}x{} -> {}x{}, {} frames, video {source_duration:.4} s -> {output_duration:.4} s",
        w,
        h,
        2 * w,
        2 * h,
        output_times.len()
    );
    assert!(
        (output_duration - source_duration).abs() <= frame + 1e-6,
        "{name}: video lasts {output_duration:.4} s, source {source_duration:.4} s (one frame = {frame:.4} s)"
    );
}

#[test]
fn codec_matrix_mpeg2_interlaced_program_stream() {
    check_codec("video/mpeg2.mpg");
}

#[test]
fn codec_matrix_h264_with_audio_subtitles_and_chapters() {
    check_codec("video/h264_aac_subs_chapters.mkv");
}

#[test]
fn codec_matrix_mjpeg_full_range_avi() {
    check_codec("video/mjpeg.avi");
}

#[test]
fn codec_matrix_vp9_with_opus_webm() {
    check_codec("video/vp9.webm");
}

#[test]
fn codec_matrix_lossless_ffv1() {
    check_codec("video/ffv1.mkv");
}

#[test]
fn codec_matrix_odd_size_241x135() {
    check_codec("video/odd_241x135.mkv");
}

/// A PAL DV capture: 4:3 pixels (SAR 16:15) stay 4:3 at twice the size, and the PCM
/// stereo track is copied.
#[test]
fn codec_matrix_pal_dv_keeps_its_aspect_and_pcm_audio() {
    check_codec("video/dv_pal.dv");
    let run = Run::restore(&[("video/dv_pal.dv", "tape.dv")], "");
    let output = probe(&run.output("tape.mkv"));
    assert_eq!(video(&output)["sample_aspect_ratio"], "16:15");
    assert_eq!(video(&output)["display_aspect_ratio"], "4:3");
    let audio = streams_of(&output, "audio");
    assert_eq!(audio.len(), 1);
    assert_eq!(
        (&audio[0]["codec_name"], &audio[0]["channels"]),
        (&serde_json::json!("pcm_s16le"), &serde_json::json!(2))
    );
}

// ---------------------------------------------------------------------------------------
// 2. Timestamps: every frame keeps its source PTS.

/// Frame-by-frame PTS comparison; the tolerance is 1 ms or one tick of the output's
/// time base, whichever is larger.
fn assert_same_frame_times(source: &Path, output: &Path) {
    let (expected, actual) = (frame_times(source), frame_times(output));
    assert_eq!(
        actual.len(),
        expected.len(),
        "frame count of {}",
        output.display()
    );
    let tolerance = 0.001f64.max(tick(&video(&probe(output)))) + 1e-9;
    let mut worst = 0.0f64;
    for (index, (e, a)) in expected.iter().zip(&actual).enumerate() {
        worst = worst.max((e - a).abs());
        assert!(
            (e - a).abs() <= tolerance,
            "frame {index}: source PTS {e:.6} s, output {a:.6} s (tolerance {tolerance:.6})\n\
             source {expected:?}\noutput {actual:?}"
        );
    }
    println!(
        "{}: {} frames, largest PTS difference {:.3} ms, first frame at {:.6} s",
        output.display(),
        actual.len(),
        worst * 1000.0,
        actual[0]
    );
}

/// The gaps between frames are not all the same: a VFR clip stayed VFR.
fn assert_still_variable(output: &Path) {
    let times = frame_times(output);
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let shortest = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    let longest = gaps.iter().copied().fold(0.0, f64::max);
    assert!(
        longest > 2.0 * shortest,
        "frame gaps of {} are no longer variable: {gaps:?}",
        output.display()
    );
}

#[test]
fn vfr_mkv_keeps_every_frame_pts() {
    let run = Run::restore(&[("video/vfr.mkv", "vfr.mkv")], "");
    assert_same_frame_times(&run.input("vfr.mkv"), &run.output("vfr.mkv"));
    assert_still_variable(&run.output("vfr.mkv"));
}

/// MP4 audio starts at -21 ms (AAC priming); Matroska used to shift every stream so it
/// starts at zero, moving all frames 21 ms late.
#[test]
fn vfr_mp4_keeps_every_frame_pts_in_mkv() {
    let run = Run::restore(&[("video/vfr.mp4", "vfr.mp4")], "");
    assert_same_frame_times(&run.input("vfr.mp4"), &run.output("vfr.mkv"));
    assert_still_variable(&run.output("vfr.mkv"));
    assert_stream_copied(
        &run.input("vfr.mp4"),
        &run.output("vfr.mkv"),
        "audio",
        Durations::NotComparable,
    );
}

#[test]
fn vfr_mp4_keeps_every_frame_pts_in_mp4() {
    let run = Run::restore(
        &[("video/vfr.mp4", "vfr.mp4")],
        "encode:\n  container: mp4\n",
    );
    assert_same_frame_times(&run.input("vfr.mp4"), &run.output("vfr.mp4"));
    assert_still_variable(&run.output("vfr.mp4"));
}

#[test]
fn start_offset_keeps_its_ten_second_start() {
    let run = Run::restore(&[("video/start_offset.mp4", "start.mp4")], "");
    let output = run.output("start.mkv");
    assert_same_frame_times(&run.input("start.mp4"), &output);
    let first = frame_times(&output)[0];
    assert!(
        (first - 10.0).abs() < 0.001,
        "first frame at {first} s, not 10 s"
    );
}

/// Opus pre-skip puts the WebM audio at -7 ms; video and audio keep their times through
/// Matroska (they used to come out 7 ms later, and the audio 6 ms earlier, per pass).
#[test]
fn vp9_with_opus_keeps_video_and_audio_times() {
    let run = Run::restore(&[("video/vp9.webm", "vp9.webm")], "");
    assert_same_frame_times(&run.input("vp9.webm"), &run.output("vp9.mkv"));
    assert_stream_copied(
        &run.input("vp9.webm"),
        &run.output("vp9.mkv"),
        "audio",
        Durations::Kept,
    );
}

// ---------------------------------------------------------------------------------------
// 3. Copied streams, metadata and chapters.

/// Whether packet durations are compared too.
#[derive(Clone, Copy, PartialEq)]
enum Durations {
    /// Same container family: every packet keeps its duration.
    Kept,
    /// MP4 into Matroska: an MP4 track's last packet may be cut short (its sample
    /// duration), which ffmpeg 5.1's Matroska muxer does not store (readers then give it
    /// the track's default duration), so durations are not compared.
    NotComparable,
}

/// Checks that `kind` (audio/subtitle) was copied: same codec, same packets (count,
/// pts within 1 ms, sizes, and durations within 1 ms where `durations` says so).
fn assert_stream_copied(source: &Path, output: &Path, kind: &str, durations: Durations) {
    let (sp, op) = (probe(source), probe(output));
    let (s, o) = (&streams_of(&sp, kind)[0], &streams_of(&op, kind)[0]);
    assert_eq!(o["codec_name"], s["codec_name"], "{kind} codec");
    let source_packets = packets(source, s["index"].as_u64().unwrap());
    let output_packets = packets(output, o["index"].as_u64().unwrap());
    assert_eq!(
        output_packets.len(),
        source_packets.len(),
        "{kind} packet count"
    );
    for (index, (s, o)) in source_packets.iter().zip(&output_packets).enumerate() {
        assert!(
            (s.0 - o.0).abs() <= 0.001 + 1e-9,
            "{kind} packet {index}: pts {} s, source {} s",
            o.0,
            s.0
        );
        assert!(
            durations == Durations::NotComparable || (s.1 - o.1).abs() <= 0.001 + 1e-9,
            "{kind} packet {index}: duration {} s, source {} s",
            o.1,
            s.1
        );
        assert_eq!(o.2, s.2, "{kind} packet {index}: size");
    }
    println!(
        "{kind} of {}: {} packets copied, same pts/size{}",
        output.display(),
        output_packets.len(),
        if durations == Durations::Kept {
            "/duration"
        } else {
            ""
        }
    );
}

#[test]
fn audio_and_subtitle_packets_are_copied_untouched() {
    let name = "reel.mkv";
    let run = Run::restore(&[("video/h264_aac_subs_chapters.mkv", name)], "");
    assert_stream_copied(
        &run.input(name),
        &run.output(name),
        "audio",
        Durations::Kept,
    );
    assert_stream_copied(
        &run.input(name),
        &run.output(name),
        "subtitle",
        Durations::Kept,
    );
}

#[test]
fn languages_titles_and_chapters_are_kept() {
    let name = "reel.mkv";
    let run = Run::restore(&[("video/h264_aac_subs_chapters.mkv", name)], "");
    let (source, output) = (probe(&run.input(name)), probe(&run.output(name)));
    let audio = &streams_of(&output, "audio")[0];
    let subtitle = &streams_of(&output, "subtitle")[0];
    assert_eq!(tag(audio, "language"), Some("fra"));
    assert_eq!(tag(subtitle, "language"), Some("eng"));
    assert_eq!(tag(subtitle, "title"), Some("English"));
    assert_eq!(tag(&output["format"], "title"), Some("Reel 1"));

    let chapters = |p: &Value| -> Vec<(f64, f64, String)> {
        p["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    seconds(&c["start_time"]).unwrap(),
                    seconds(&c["end_time"]).unwrap(),
                    tag(c, "title").unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let (expected, actual) = (chapters(&source), chapters(&output));
    assert_eq!(expected.len(), 2, "fixture has two chapters");
    assert_eq!(actual.len(), expected.len(), "chapters: {actual:?}");
    for ((es, ee, et), (os, oe, ot)) in expected.iter().zip(&actual) {
        assert_eq!(ot, et, "chapter title");
        assert!(
            (os - es).abs() < 0.001 && (oe - ee).abs() < 0.001,
            "chapter {et}: {os}–{oe}, source {es}–{ee}"
        );
    }
}

/// The bytes of the one-picture stream `index` of `file` (cover art), copied out as
/// they are stored.
fn picture_bytes(ws: &Workspace, file: &Path, index: &Value, name: &str) -> Vec<u8> {
    let copy = ws.path(name);
    let map = format!("0:{index}");
    ffmpeg([
        "-i",
        file.to_str().unwrap(),
        "-map",
        map.as_str(),
        "-c",
        "copy",
        "-f",
        "image2",
        copy.to_str().unwrap(),
    ]);
    std::fs::read(&copy).unwrap()
}

/// A Matroska file's attachments (the fonts its styled subtitles need, cover art) are
/// carried into a Matroska output byte for byte with their names and MIME types; a
/// container that has no place for them gets a warning naming what is lost.
#[test]
fn attachments_are_kept_in_matroska_and_their_loss_is_warned_elsewhere() {
    let ws = Workspace::new();
    let font: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(ws.path("font.ttf"), &font).unwrap();
    let cover = std::fs::read(fixture("golden/chelsea_61x47.png")).unwrap();
    std::fs::write(ws.path("cover.png"), &cover).unwrap();
    std::fs::create_dir_all(ws.path("in")).unwrap();
    let input = ws.path("in/reel.mkv");
    ffmpeg([
        "-i",
        fixture("video/ffv1.mkv").to_str().unwrap(),
        "-attach",
        ws.path("font.ttf").to_str().unwrap(),
        "-attach",
        ws.path("cover.png").to_str().unwrap(),
        "-map",
        "0",
        "-c",
        "copy",
        "-metadata:s:t:0",
        "mimetype=application/x-truetype-font",
        "-metadata:s:t:1",
        "mimetype=image/png",
        input.to_str().unwrap(),
    ]);

    let pipeline = ws.pipeline(RESTORE_X2);
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let output = ws.path("out/reel.mkv");
    // ffmpeg reads an image attachment as a one-picture video stream (attached_pic).
    let attached: Vec<Value> = probe(&output)["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["codec_type"] == "attachment" || s["disposition"]["attached_pic"] == 1)
        .cloned()
        .collect();
    let described: Vec<(Option<&str>, Option<&str>)> = attached
        .iter()
        .map(|s| (tag(s, "filename"), tag(s, "mimetype")))
        .collect();
    assert_eq!(
        described,
        [
            (Some("font.ttf"), Some("application/x-truetype-font")),
            (Some("cover.png"), Some("image/png"))
        ]
    );
    let font_copy = ws.path("font-copy");
    // ffmpeg dumps while opening the input and then stops for want of an output.
    let _ = std::process::Command::new("ffmpeg")
        .args(["-v", "quiet", "-nostdin", "-y", "-dump_attachment:t:0"])
        .arg(&font_copy)
        .arg("-i")
        .arg(&output)
        .status();
    assert!(
        std::fs::read(&font_copy).unwrap() == font,
        "font bytes changed"
    );
    let kept_cover = picture_bytes(&ws, &output, &attached[1]["index"], "cover-copy.png");
    assert!(kept_cover == cover, "cover bytes changed");

    let mp4 = ws.pipeline(&format!("{RESTORE_X2}encode:\n  container: mp4\n"));
    let run = ws.run(&mp4, &["--force"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{}: its 2 attached file(s) (fonts, cover art) cannot be stored in mp4, so the output has none; use `container: mkv` to keep them",
            input.display()
        )),
        "{}",
        run.stderr
    );
    assert!(streams_of(&probe(&ws.path("out/reel.mp4")), "attachment").is_empty());
}

/// An MP4's cover art has no file name, which Matroska requires of an attachment: it
/// goes in as `cover.png` with its bytes unchanged.
#[test]
fn mp4_cover_art_becomes_a_named_matroska_attachment() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("in")).unwrap();
    let input = ws.path("in/song.mp4");
    ffmpeg([
        "-i",
        fixture("video/ffv1.mkv").to_str().unwrap(),
        "-i",
        fixture("golden/chelsea_61x47.png").to_str().unwrap(),
        "-map",
        "0:v",
        "-map",
        "1",
        "-c:v:0",
        "libx264",
        "-c:v:1",
        "png",
        "-disposition:v:1",
        "attached_pic",
        input.to_str().unwrap(),
    ]);
    let pipeline = ws.pipeline(&format!("{RESTORE_X2}encode:\n  container: mkv\n"));
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let output = ws.path("out/song.mkv");
    let pictures: Vec<Value> = streams_of(&probe(&output), "video")
        .into_iter()
        .filter(|s| s["disposition"]["attached_pic"] == 1)
        .collect();
    assert_eq!(pictures.len(), 1, "{pictures:?}");
    assert_eq!(
        (tag(&pictures[0], "filename"), tag(&pictures[0], "mimetype")),
        (Some("cover.png"), Some("image/png"))
    );
    // The picture as the MP4 holds it (ffmpeg wrote it anew) against the MKV's.
    let source = picture_bytes(&ws, &input, &serde_json::json!(1), "source-cover.png");
    let kept = picture_bytes(&ws, &output, &pictures[0]["index"], "kept-cover.png");
    assert!(!source.is_empty() && source == kept, "cover bytes changed");
}

/// The closed captions a video carries in its stream (CEA-608 in A/53 SEI, as
/// ffmpeg's ccaption decoder reads them back) as SubRip text.
fn closed_captions(path: &Path) -> String {
    let source = format!("movie={}[out0+subcc]", path.display());
    let srt = ffmpeg([
        "-f", "lavfi", "-i", &source, "-map", "0:1", "-f", "srt", "-",
    ]);
    String::from_utf8(srt).unwrap()
}

/// A broadcast capture's closed captions travel with their frames through the restore
/// stage and come out in the new stream at the same times, in Matroska and in MP4; an
/// encoder that drops them is warned about.
#[test]
fn closed_captions_are_kept_with_their_frames() {
    let source = fixture("video/h264_cc608.mkv");
    let expected = closed_captions(&source);
    assert!(expected.contains("HELLO WORLD"), "fixture: {expected}");
    for container in ["mkv", "mp4"] {
        let run = Run::restore(
            &[("video/h264_cc608.mkv", "news.mkv")],
            &format!("encode:\n  container: {container}\n"),
        );
        let kept = closed_captions(&run.output(&format!("news.{container}")));
        assert_eq!(kept, expected, "{container}");
    }
    // An encoder that cannot write them says so.
    let run = Run::restore(
        &[("video/h264_cc608.mkv", "news.mkv")],
        "encode:\n  codec: libx265\n",
    );
    assert!(
        run.stderr.contains(&format!(
            "{}: its closed captions are not kept: libx265 does not write them into the stream \
             (libx264 and mpeg2video do)",
            run.input("news.mkv").display()
        )),
        "{}",
        run.stderr
    );
}

/// A second video stream (another angle, a picture-in-picture) has no place in the
/// output: the main one is restored and the other named in a warning.
#[test]
fn a_second_video_stream_left_out_is_warned_about() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("in")).unwrap();
    let input = ws.path("in/angles.mkv");
    ffmpeg([
        "-i",
        fixture("video/ffv1.mkv").to_str().unwrap(),
        "-i",
        fixture("video/odd_241x135.mkv").to_str().unwrap(),
        "-map",
        "1",
        "-map",
        "0",
        "-c",
        "copy",
        input.to_str().unwrap(),
    ]);
    let run = ws.run(&ws.pipeline(RESTORE_X2), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // ffmpeg's pick of the main video is the larger picture, stream 0.
    let output = probe(&ws.path("out/angles.mkv"));
    let videos = streams_of(&output, "video");
    assert_eq!(videos.len(), 1);
    assert_eq!(
        (&videos[0]["width"], &videos[0]["height"]),
        (&482.into(), &270.into())
    );
    let warning = "its video stream 1 (ffv1) is not kept: an output holds the main video, \
                   audio, subtitles and attachments";
    assert!(
        run.stderr
            .contains(&format!("{}: {warning}", input.display())),
        "{}",
        run.stderr
    );
    assert_eq!(
        ws.report()["items"][0]["warnings"],
        serde_json::json!([warning])
    );
}

/// A video with an alpha plane is restored opaque, and the report says so.
#[test]
fn a_video_alpha_channel_is_warned_about() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("in")).unwrap();
    let input = ws.path("in/overlay.mov");
    ffmpeg([
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=96x64:rate=12:duration=0.25,format=rgba",
        "-c:v",
        "png",
        input.to_str().unwrap(),
    ]);
    let run = ws.run(&ws.pipeline(RESTORE_X2), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let warning =
        "its video has an alpha channel (rgba), which is not restored: the output is opaque";
    assert!(
        run.stderr
            .contains(&format!("{}: {warning}", input.display())),
        "{}",
        run.stderr
    );
    let report = ws.report();
    assert_eq!(report["items"][0]["warnings"], serde_json::json!([warning]));
}

#[test]
fn audio_drop_and_subtitles_drop_remove_the_streams() {
    let name = "reel.mkv";
    let files = [("video/h264_aac_subs_chapters.mkv", name)];
    let no_audio = Run::restore(&files, "encode:\n  audio: drop\n");
    let p = probe(&no_audio.output(name));
    assert!(
        streams_of(&p, "audio").is_empty(),
        "audio: drop left an audio stream"
    );
    assert_eq!(
        streams_of(&p, "subtitle").len(),
        1,
        "audio: drop also removed subtitles"
    );

    let no_subtitles = Run::restore(&files, "encode:\n  subtitles: drop\n");
    let p = probe(&no_subtitles.output(name));
    assert!(
        streams_of(&p, "subtitle").is_empty(),
        "subtitles: drop left a subtitle stream"
    );
    assert_eq!(
        streams_of(&p, "audio").len(),
        1,
        "subtitles: drop also removed audio"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Rotation and pixel aspect.

#[test]
fn mp4_to_mp4_keeps_rotation_sar_audio_and_subtitles() {
    let name = "phone.mp4";
    let run = Run::restore(
        &[("video/h264_rotated_sar.mp4", name)],
        "encode:\n  container: same\n",
    );
    let (source, output) = (run.input(name), run.output(name));
    let (sp, op) = (probe(&source), probe(&output));
    assert!(op["format"]["format_name"]
        .as_str()
        .unwrap()
        .contains("mp4"));
    let (sv, ov) = (video(&sp), video(&op));
    assert_eq!(display_rotation(&sv), Some(90.0), "fixture rotation");
    assert_eq!(display_rotation(&ov), display_rotation(&sv), "rotation");
    assert_eq!(ov["sample_aspect_ratio"], "4:3", "SAR");
    assert_stream_copied(&source, &output, "audio", Durations::Kept);
    assert_stream_copied(&source, &output, "subtitle", Durations::Kept);
    assert_eq!(
        tag(&streams_of(&op, "subtitle")[0], "language"),
        Some("eng")
    );
}

/// ffmpeg 5.1's Matroska muxer has no way to write a display matrix (it writes no
/// `ProjectionPoseRoll`, and a plain `-c copy` to .mkv loses it too). So with the
/// default mkv container the pixel aspect is kept and the lost rotation is a per-file
/// warning that names the way to keep it. (mov_text cannot go into Matroska either, so
/// this run drops the subtitles.)
#[test]
fn mkv_output_keeps_sar_and_warns_that_rotation_is_lost() {
    let name = "phone.mp4";
    let run = Run::restore(
        &[("video/h264_rotated_sar.mp4", name)],
        "encode:\n  subtitles: drop\n",
    );
    let op = probe(&run.output("phone.mkv"));
    let ov = video(&op);
    assert_eq!(ov["sample_aspect_ratio"], "4:3", "SAR");
    assert_stream_copied(
        &run.input(name),
        &run.output("phone.mkv"),
        "audio",
        Durations::NotComparable,
    );
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("rotation"))
        .unwrap_or_else(|| panic!("no rotation warning in:\n{}", run.stderr));
    assert!(
        warning.contains(&run.input(name).display().to_string())
            && warning.contains("90")
            && warning.contains("container: same"),
        "warning should name the file, the angle and the fix: {warning}"
    );
}

/// A stream the output container cannot hold fails the file with advice that fits:
/// mov_text in Matroska must not be told to use `container: mkv`.
#[test]
fn mov_text_into_mkv_fails_with_advice_that_fits() {
    let name = "phone.mp4";
    let run = Run::new(&[("video/h264_rotated_sar.mp4", name)], RESTORE_X2, "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let prefix = format!("{}: ", run.input(name).display());
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{}", run.stderr));
    assert!(
        line.contains("mov_text") && line.contains("subtitles: drop"),
        "{line}"
    );
    assert!(
        !line.contains("container: mkv"),
        "advice points at the container in use: {line}"
    );
    assert!(run.ws.outputs().is_empty(), "{:?}", run.ws.outputs());
}

// ---------------------------------------------------------------------------------------
// 5. Encode options.

fn encode_ffv1_clip(encode: &str, output: &str) -> (Run, Value) {
    let run = Run::restore(
        &[("video/ffv1.mkv", "clip.mkv")],
        &format!("encode:\n{encode}"),
    );
    let p = probe(&run.output(output));
    let v = video(&p);
    assert_eq!(
        frame_times(&run.output(output)).len(),
        frame_times(&run.input("clip.mkv")).len(),
        "frame count"
    );
    (run, v)
}

/// An encoder that refuses the settings fails its file with ffmpeg's own reason, not a
/// bare "Invalid argument" (MPEG-2 codes only its standard frame rates, and a variable
/// rate clip averages 289/12).
#[test]
fn an_encoder_refusal_gives_ffmpegs_reason() {
    let run = Run::new(
        &[("video/vfr.mkv", "clip.mkv")],
        RESTORE_X2,
        "encode:\n  codec: mpeg2video\n",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.ws.failure_lines(&run.stderr, "clip.mkv"),
        [format!(
            "{}: encoder mpeg2video refused the settings (MPEG-1/2 does not support \
             289/12 fps): Invalid argument",
            run.input("clip.mkv").display()
        )]
    );
}

/// MPEG-2 codes a frame rate, not timestamps: a 29.97 fps source keeps every frame,
/// its duration and its closed captions (written back as MPEG-2 user data).
#[test]
fn codec_mpeg2video_at_a_standard_rate_keeps_frames_and_captions() {
    let run = Run::restore(
        &[("video/h264_cc608.mkv", "news.mkv")],
        "encode:\n  codec: mpeg2video\n",
    );
    let (source, output) = (run.input("news.mkv"), run.output("news.mkv"));
    assert_eq!(video(&probe(&output))["codec_name"], "mpeg2video");
    assert_eq!(frame_times(&output).len(), frame_times(&source).len());
    assert!((video_duration(&output) - video_duration(&source)).abs() < 1e-3);
    assert_eq!(closed_captions(&output), closed_captions(&source));
    assert!(
        !run.stderr.contains("closed captions are not kept"),
        "{}",
        run.stderr
    );
}

#[test]
fn codec_libx265_gives_hevc() {
    let (_, v) = encode_ffv1_clip("  codec: libx265\n", "clip.mkv");
    assert_eq!(v["codec_name"], "hevc");
}

/// AV1 through SVT-AV1, whose banner and settings (printed past ffmpeg's log) stay off
/// stderr unless the user sets `SVT_LOG`.
#[test]
fn codec_libsvtav1_gives_av1_without_its_banner() {
    let (run, v) = encode_ffv1_clip("  codec: libsvtav1\n", "clip.mkv");
    assert_eq!(v["codec_name"], "av1");
    assert!(!run.stderr.contains("Svt["), "{}", run.stderr);
}

/// MJPEG takes only full-range (`yuvj*`) samples: a limited-range source is written
/// full range and tagged so, with its picture intact.
#[test]
fn codec_mjpeg_writes_full_range() {
    let (run, v) = encode_ffv1_clip("  codec: mjpeg\n", "clip.mkv");
    assert_eq!(
        (&v["codec_name"], &v["color_range"]),
        (&"mjpeg".into(), &"pc".into())
    );
    let ffv1 = encode_ffv1_clip("  codec: ffv1\n", "clip.mkv").0;
    let (jpeg, lossless) = (
        decode_rgb(&run.output("clip.mkv")),
        decode_rgb(&ffv1.output("clip.mkv")),
    );
    let p = psnr(jpeg[0].as_raw(), lossless[0].as_raw());
    assert!(p > 30.0, "MJPEG frame vs lossless: {p:.1} dB");
}

/// Lossless intermediates that Matroska holds through its VFW mapping (as `ffmpeg -c:v
/// utvideo out.mkv` writes them) are not refused, and give the FFV1 picture exactly.
#[test]
fn codec_utvideo_in_matroska_is_lossless_like_ffv1() {
    let (run, v) = encode_ffv1_clip("  codec: utvideo\n  pixel_format: yuv420p\n", "clip.mkv");
    assert_eq!(v["codec_name"], "utvideo");
    let ffv1 = encode_ffv1_clip("  codec: ffv1\n  pixel_format: yuv420p\n", "clip.mkv").0;
    let (ut, lossless) = (
        decode_rgb(&run.output("clip.mkv")),
        decode_rgb(&ffv1.output("clip.mkv")),
    );
    assert_eq!(ut.len(), lossless.len());
    assert!(ut == lossless, "UT Video frames differ from FFV1's");
}

/// ProRes, the mastering codec: 10-bit 4:2:2 (its first format) from an 8-bit source.
#[test]
fn codec_prores_ks_gives_10_bit_prores() {
    let (_, v) = encode_ffv1_clip("  codec: prores_ks\n", "clip.mkv");
    assert_eq!(
        (&v["codec_name"], &v["pix_fmt"]),
        (&"prores".into(), &"yuv422p10le".into())
    );
}

#[test]
fn codec_ffv1_gives_ffv1() {
    let (_, v) = encode_ffv1_clip("  codec: ffv1\n", "clip.mkv");
    assert_eq!(v["codec_name"], "ffv1");
}

/// x264 writes its settings into the stream (an SEI text), so crf and preset can be read
/// back from the file.
#[test]
fn crf_and_preset_reach_libx264() {
    let (run, v) = encode_ffv1_clip(
        "  codec: libx264\n  crf: 30\n  preset: ultrafast\n",
        "clip.mkv",
    );
    assert_eq!(v["codec_name"], "h264");
    let bytes = std::fs::read(run.output("clip.mkv")).unwrap();
    let marker = b"x264 - core";
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("x264 settings SEI");
    let options = String::from_utf8_lossy(&bytes[at..(at + 2000).min(bytes.len())]);
    assert!(options.contains("crf=30.0"), "crf not applied: {options}");
    // ultrafast turns CABAC and subpixel refinement off; the default (medium) has both.
    assert!(
        options.contains("cabac=0") && options.contains("subme=0"),
        "preset not applied: {options}"
    );
}

#[test]
fn pixel_format_yuv444p_is_used() {
    let (_, v) = encode_ffv1_clip("  pixel_format: yuv444p\n", "clip.mkv");
    assert_eq!(v["pix_fmt"], "yuv444p");
}

#[test]
fn container_mp4_gives_an_mp4_file() {
    let (run, v) = encode_ffv1_clip("  container: mp4\n", "clip.mp4");
    assert_eq!(v["codec_name"], "h264");
    let p = probe(&run.output("clip.mp4"));
    assert!(p["format"]["format_name"].as_str().unwrap().contains("mp4"));
}

/// SubRip cannot be stored in MP4: that file fails with a message naming the stream and
/// both ways out, and the rest of the batch still finishes.
#[test]
fn container_mp4_refuses_subrip_with_advice_and_the_batch_goes_on() {
    let run = Run::new(
        &[
            ("video/h264_aac_subs_chapters.mkv", "reel.mkv"),
            ("video/ffv1.mkv", "clip.mkv"),
        ],
        RESTORE_X2,
        "encode:\n  container: mp4\n",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let prefix = format!("{}: ", run.input("reel.mkv").display());
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one line for the failed file:\n{}",
        run.stderr
    );
    let line = lines[0];
    assert!(
        line.contains("subtitle stream 2")
            && line.contains("subrip")
            && line.contains("container: mkv")
            && line.contains("subtitles: drop"),
        "{line}"
    );
    assert_eq!(run.ws.outputs(), vec!["clip.mp4".to_string()]);
    assert_eq!(video(&probe(&run.output("clip.mp4")))["codec_name"], "h264");
}

/// `container: same` keeps a WebM input's container, which cannot hold H.264: that file
/// fails before anything is written, with a message naming the container's own codec
/// and containers that hold H.264.
#[test]
fn container_same_refuses_h264_in_webm_with_advice_and_the_batch_goes_on() {
    let run = Run::new(
        &[
            ("video/vp9.webm", "clip.webm"),
            ("video/ffv1.mkv", "clip.mkv"),
        ],
        RESTORE_X2,
        "encode:\n  container: same\n  codec: libx264\n",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.ws.failure_lines(&run.stderr, "clip.webm"),
        [format!(
            "{}: video codec h264 cannot be stored in webm; use `codec: libvpx-vp9`, \
             `container: mkv` or `container: mp4`",
            run.input("clip.webm").display()
        )],
        "{}",
        run.stderr
    );
    assert_eq!(run.ws.outputs(), vec!["clip.mkv".to_string()]);
}

/// `container: same` keeps a DV input's raw DV container, whose muxer holds only DV
/// video and does not say so up front: the header's refusal names what was offered,
/// gives ffmpeg's own reason and the container that holds it, and the batch goes on.
#[test]
fn container_same_refuses_h264_in_raw_dv_naming_what_was_offered() {
    let run = Run::new(
        &[
            ("video/dv_pal.dv", "tape.dv"),
            ("video/ffv1.mkv", "clip.mkv"),
        ],
        "stages:\n  - filter: \"scale=180:144\"\n",
        "encode:\n  container: same\n  codec: libx264\n",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.ws.failure_lines(&run.stderr, "tape.dv"),
        [format!(
            "{}: the dv container refused h264 video, pcm_s16le audio (Can't initialize DV \
             format! Make sure that you supply exactly two streams: video: 25fps or 29.97fps, \
             audio: 2ch/48|44|32kHz/PCM (50Mbps allows an optional second audio stream)); use \
             `container: mkv`: Operation not permitted",
            run.input("tape.dv").display()
        )],
        "{}",
        run.stderr
    );
    assert_eq!(run.ws.outputs(), vec!["clip.mkv".to_string()]);
}

// ---------------------------------------------------------------------------------------
// 6. Colour.
//
// The flat fixtures hold one colour, coded with the matrix and range their tags name.
// Decoding with the wrong matrix or range is off by several levels: read as BT.601,
// flat_bt709.mkv gives about (192, 118, 45) instead of (200, 120, 41); read as limited
// range, flat_bt709_full.mkv gives about (213, 121, 30). `a_matrix_mix_up_is_several_levels`
// measures that on the fixtures, so a 1-level tolerance really catches such a mix-up.
//
// The restoration model itself is not colour-neutral on a flat field (it lifts
// (200, 120, 40) to about (204, 122, 42.5)). So the colour path is checked twice: with a
// pass-through stage (`filter: "null"`, same size) against the source itself, and with
// the ×2 model against the model's own output on the correctly decoded source frame,
// run through the still-image path. That output is a colour no 8-bit 4:2:0 YUV code
// gives exactly (a source colour was made from YUV codes, so it round-trips exactly):
// one luma step is 1.16 levels of R, G and B in limited range. So the restored check
// allows 1.5 levels, still far below the 8 and 13 levels of the mix-ups above.

/// Largest per-channel gap allowed between the restored video and the model's output.
const RESTORED_TOLERANCE: f64 = 1.5;

/// Mean of each channel over every frame.
fn channel_means(frames: &[image::RgbImage]) -> [f64; 3] {
    let mut sums = [0.0f64; 3];
    let mut count = 0.0;
    for frame in frames {
        for pixel in frame.pixels() {
            for (sum, value) in sums.iter_mut().zip(pixel.0) {
                *sum += f64::from(value);
            }
            count += 1.0;
        }
    }
    sums.map(|s| s / count)
}

fn largest_gap(a: [f64; 3], b: [f64; 3]) -> f64 {
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Channel means of a video decoded with a forced input matrix and range.
fn means_decoded_as(path: &Path, matrix: &str, range: &str) -> [f64; 3] {
    let filters = format!(
        "scale=in_color_matrix={matrix}:in_range={range}:out_range=full:flags=bicubic+accurate_rnd+full_chroma_int,format=rgb24"
    );
    let data = ffmpeg([
        "-i",
        path.to_str().unwrap(),
        "-map",
        "0:v:0",
        "-vf",
        filters.as_str(),
        "-f",
        "rawvideo",
        "-",
    ]);
    let count = (data.len() / 3) as f64;
    let mut sums = [0.0f64; 3];
    for pixel in data.chunks_exact(3) {
        for (sum, value) in sums.iter_mut().zip(pixel) {
            *sum += f64::from(*value);
        }
    }
    sums.map(|s| s / count)
}

const COLOUR_TAGS: [&str; 4] = [
    "color_space",
    "color_range",
    "color_primaries",
    "color_transfer",
];

fn assert_colour_tags_kept(source: &Path, output: &Path) {
    let (s, o) = (video(&probe(source)), video(&probe(output)));
    for key in COLOUR_TAGS {
        assert_eq!(o[key], s[key], "{key} of {}", output.display());
    }
}

/// Decode → RGB → encode with a pass-through stage: the colours match the source.
fn check_colour_round_trip(fixture_path: &str) -> [f64; 3] {
    let name = Path::new(fixture_path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let run = Run::new(
        &[(fixture_path, name)],
        "stages:\n  - filter: \"null\"\n",
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (source, output) = (run.input(name), run.output(name));
    let (expected, actual) = (
        channel_means(&decode_rgb(&source)),
        channel_means(&decode_rgb(&output)),
    );
    let gap = largest_gap(expected, actual);
    println!("{name} pass-through: source means {expected:.3?}, output {actual:.3?}, largest gap {gap:.3}");
    assert!(
        gap < 1.0,
        "{name}: output means {actual:?}, source {expected:?}"
    );
    assert_colour_tags_kept(&source, &output);
    [
        actual[0] - expected[0],
        actual[1] - expected[1],
        actual[2] - expected[2],
    ]
}

/// Restored with ×2: the colours match the model's own output on the decoded source.
fn check_colour_restored(fixture_path: &str) {
    let name = Path::new(fixture_path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let run = Run::restore(&[(fixture_path, name)], "");
    let (source, output) = (run.input(name), run.output(name));
    assert_colour_tags_kept(&source, &output);

    // The model's answer for the correctly decoded source frame, through the image path.
    let reference = Workspace::new();
    std::fs::create_dir_all(reference.path("in")).unwrap();
    decode_rgb(&source)[0]
        .save(reference.path("in/frame.png"))
        .unwrap();
    let pipeline = reference.pipeline(RESTORE_X2);
    frameforge().arg("run").arg(&pipeline).assert().success();
    let model_out = image::open(reference.path("out/frame.png"))
        .unwrap()
        .to_rgb8();

    let (expected, actual) = (
        channel_means(&[model_out]),
        channel_means(&decode_rgb(&output)),
    );
    let gap = largest_gap(expected, actual);
    let source_means = channel_means(&decode_rgb(&source));
    println!(
        "{name} x2: source means {source_means:.3?}, model on the source frame {expected:.3?}, \
         restored video {actual:.3?}, largest gap to the model {gap:.3}"
    );
    assert!(
        gap < RESTORED_TOLERANCE,
        "{name}: restored video means {actual:?}, model on the source frame {expected:?}"
    );
}

#[test]
fn colour_bt709_limited_round_trips() {
    check_colour_round_trip("video/flat_bt709.mkv");
    check_colour_restored("video/flat_bt709.mkv");
}

#[test]
fn colour_bt601_limited_round_trips() {
    check_colour_round_trip("video/flat_bt601.mkv");
    check_colour_restored("video/flat_bt601.mkv");
}

#[test]
fn colour_bt709_full_range_round_trips() {
    check_colour_round_trip("video/flat_bt709_full.mkv");
    check_colour_restored("video/flat_bt709_full.mkv");
}

/// The negative control: decoding with the other matrix (or range) is several levels off,
/// far outside the 1-level tolerance of the round-trip tests.
#[test]
fn a_matrix_mix_up_is_several_levels() {
    let bt709 = fixture("video/flat_bt709.mkv");
    let right = means_decoded_as(&bt709, "bt709", "limited");
    let wrong = means_decoded_as(&bt709, "bt601", "limited");
    println!("flat_bt709 as bt709 {right:.2?}, as bt601 {wrong:.2?}");
    assert!(
        largest_gap(right, wrong) >= 3.0,
        "bt709 as bt601: {right:?} vs {wrong:?}"
    );

    let full = fixture("video/flat_bt709_full.mkv");
    let right = means_decoded_as(&full, "bt709", "full");
    let wrong = means_decoded_as(&full, "bt709", "limited");
    println!("flat_bt709_full as full {right:.2?}, as limited {wrong:.2?}");
    assert!(
        largest_gap(right, wrong) >= 3.0,
        "full as limited: {right:?} vs {wrong:?}"
    );
}
