//! Shared helpers for the integration tests: the binary under test, temporary
//! workspaces with pipelines, ffprobe facts, decoded frames and PSNR.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use image::RgbImage;

/// The repository root (where `fixtures/` and `models/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A committed fixture by its path below `fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    root().join("fixtures").join(relative)
}

/// A shipped model by file name.
pub fn model(name: &str) -> PathBuf {
    root().join("models").join(name)
}

/// The `frameforge` binary built for these tests.
pub fn frameforge() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("frameforge").expect("binary is built");
    cmd.env_remove("RUST_LOG");
    cmd
}

/// A temporary directory holding a pipeline file, its input tree and output tree.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Copies fixtures into `in/` under the given names.
    pub fn input(&self, files: &[(&str, &str)]) -> PathBuf {
        for (fixture_path, name) in files {
            let target = self.path("in").join(name);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(fixture(fixture_path), &target)
                .unwrap_or_else(|e| panic!("copy {fixture_path}: {e}"));
        }
        self.path("in")
    }

    /// Writes `pipeline.yaml` with `in/` as input, `out/` as output and `body` appended
    /// (stages, encode…). `{x2}` and `{x4}` stand for the shipped models.
    pub fn pipeline(&self, body: &str) -> PathBuf {
        std::fs::create_dir_all(self.path("in")).unwrap();
        let body = body
            .replace(
                "{x2}",
                &model("realesr-animevideov3-x2.onnx").display().to_string(),
            )
            .replace(
                "{x4}",
                &model("realesr-animevideov3-x4.onnx").display().to_string(),
            );
        let text = format!("input:\n  path: in\noutput:\n  path: out\n{body}");
        let path = self.path("pipeline.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The media outputs below `out/`: every file but the run's report and state.
    pub fn outputs(&self) -> Vec<String> {
        self.files_under("out")
            .into_iter()
            .filter(|f| !f.starts_with(".frameforge/") && !f.starts_with("report."))
            .collect()
    }

    /// Every file below `dir`, relative, sorted.
    pub fn files_under(&self, dir: &str) -> Vec<String> {
        let base = self.path(dir);
        let mut files: Vec<String> = walkdir::WalkDir::new(&base)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().strip_prefix(&base).unwrap().display().to_string())
            .collect();
        files.sort();
        files
    }
}

/// `ffprobe -show_streams -show_format -show_chapters` as JSON.
pub fn probe(path: &Path) -> serde_json::Value {
    probe_with(path, &["-show_streams", "-show_format", "-show_chapters"])
}

/// ffprobe with extra arguments, as JSON.
pub fn probe_with(path: &Path, args: &[&str]) -> serde_json::Value {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        output.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("ffprobe JSON")
}

/// The streams of `kind` (`video`, `audio`, `subtitle`).
pub fn streams_of(probe: &serde_json::Value, kind: &str) -> Vec<serde_json::Value> {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["codec_type"] == kind)
        .cloned()
        .collect()
}

/// Presentation timestamps (seconds) of every frame of the first video stream.
///
/// A frame ffprobe gives no time at all (the last frame of an MPEG-PS stream, whose
/// B-frame packet has no PTS) is placed one frame duration after the previous one.
pub fn frame_times(path: &Path) -> Vec<f64> {
    let json = probe_with(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time,best_effort_timestamp_time,pkt_duration_time",
        ],
    );
    let seconds = |v: &serde_json::Value| v.as_str().and_then(|t| t.parse::<f64>().ok());
    let mut times: Vec<f64> = Vec::new();
    let mut previous_duration = None;
    for f in json["frames"].as_array().unwrap() {
        let t = seconds(&f["pts_time"])
            .or_else(|| seconds(&f["best_effort_timestamp_time"]))
            .or_else(|| Some(times.last()? + previous_duration?))
            .unwrap_or_else(|| panic!("{}: a frame without any time", path.display()));
        times.push(t);
        previous_duration = seconds(&f["pkt_duration_time"]);
    }
    times
}

/// Every frame of the first video stream as RGB, converted by ffmpeg with the stream's
/// own colour tags.
pub fn decode_rgb(path: &Path) -> Vec<RgbImage> {
    let json = probe(path);
    let video = &streams_of(&json, "video")[0];
    let (w, h) = (
        video["width"].as_u64().unwrap() as u32,
        video["height"].as_u64().unwrap() as u32,
    );
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-map",
            "0:v:0",
            "-vsync",
            "passthrough",
            "-sws_flags",
            "bicubic+accurate_rnd+full_chroma_int",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
        .stdout
        .chunks_exact((w * h * 3) as usize)
        .map(|c| RgbImage::from_raw(w, h, c.to_vec()).unwrap())
        .collect()
}

/// Peak signal-to-noise ratio in dB of two same-sized 8-bit images (infinite when equal).
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "images differ in size");
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(*x) - f64::from(*y);
            d * d
        })
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// Largest absolute difference between samples.
pub fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}
