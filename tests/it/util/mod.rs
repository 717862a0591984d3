//! Shared helpers for the integration tests: the binary under test, temporary
//! workspaces with pipelines, runs in the background (stderr read as it comes, signals),
//! ffprobe facts, decoded frames and PSNR; `html.rs` reads report.html back.

pub mod html;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::RgbImage;

pub mod checkpoints;

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

/// A copy of the shipped captioner's folder at `to`, less the files named in `leave_out`.
pub fn copy_captioner(to: &Path, leave_out: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(model("captioner")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if !leave_out.iter().any(|l| name == *l) {
            std::fs::copy(&path, to.join(name)).unwrap();
        }
    }
}

/// The crops of real photographs the restoration goldens are made from
/// (`fixtures/golden/NAME.png`, by tools/make_goldens.py).
pub const GOLDEN_INPUTS: [&str; 3] = ["astronaut_96x80", "coffee_72x64", "chelsea_61x47"];

/// Runs `frameforge validate PIPELINE`, which must refuse it (exit 2); its stderr.
pub fn refused_by_validate(pipeline: &Path) -> String {
    let output = frameforge().arg("validate").arg(pipeline).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
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

    /// Copies the golden inputs (`fixtures/golden/NAME.png`, [`GOLDEN_INPUTS`]) to `in/`.
    pub fn golden_inputs(&self) -> PathBuf {
        let files: Vec<(String, String)> = GOLDEN_INPUTS
            .iter()
            .map(|name| (format!("golden/{name}.png"), format!("{name}.png")))
            .collect();
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(from, to)| (from.as_str(), to.as_str()))
            .collect();
        self.input(&borrowed)
    }

    /// Writes `pipeline.yaml` with `in/` as input, `out/` as output and `body` appended
    /// (stages, encode…). `{x2}` and `{x4}` stand for the shipped models.
    pub fn pipeline(&self, body: &str) -> PathBuf {
        self.pipeline_with("", "out", body)
    }

    /// Like [`Workspace::pipeline`], with `input_extra` YAML under `input:` (such as
    /// `  on_decode_error: skip_frame\n`) and `output` as the output path.
    pub fn pipeline_with(&self, input_extra: &str, output: &str, body: &str) -> PathBuf {
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
        let text = format!("input:\n  path: in\n{input_extra}output:\n  path: {output}\n{body}");
        let path = self.path("pipeline.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The media outputs below `out/`: every file but the run's report and state and
    /// the XMP sidecars beside MKV outputs (`tests/it/xmp_metadata.rs` checks those).
    pub fn outputs(&self) -> Vec<String> {
        self.files_under("out")
            .into_iter()
            .filter(|f| !is_run_file(f) && !f.ends_with(".xmp"))
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

    /// The media outputs below `out/` under their final names (no temporaries).
    pub fn finished_outputs(&self) -> Vec<String> {
        self.outputs()
            .into_iter()
            .filter(|f| !f.contains(".frameforge-tmp"))
            .collect()
    }

    /// Temporary (`.frameforge-tmp`) files anywhere below `dir`.
    pub fn temporaries_under(&self, dir: &str) -> Vec<String> {
        self.files_under(dir)
            .into_iter()
            .filter(|f| f.contains(".frameforge-tmp"))
            .collect()
    }

    /// Runs `frameforge run PIPELINE ARGS…` to the end.
    pub fn run(&self, pipeline: &Path, args: &[&str]) -> RunOutput {
        let output = frameforge()
            .arg("run")
            .arg(pipeline)
            .args(args)
            .output()
            .unwrap();
        RunOutput::from(output)
    }

    /// Starts `frameforge run PIPELINE ARGS…` in the background.
    pub fn start(&self, pipeline: &Path, args: &[&str]) -> Background {
        let mut command = Command::new(frameforge_path());
        command.arg("run").arg(pipeline).args(args);
        Background::start(command)
    }

    /// `(device, inode, size, modification time)` of every finished media output, by
    /// name: if an output is rewritten (even with equal bytes), its entry changes.
    pub fn output_identities(&self) -> std::collections::BTreeMap<String, FileIdentity> {
        self.finished_outputs()
            .into_iter()
            .map(|f| {
                let identity = FileIdentity::of(&self.path(&format!("out/{f}")));
                (f, identity)
            })
            .collect()
    }

    /// The stderr lines of a run that report `word` (`start`, `done`, `skip`) for the
    /// input `in/NAME`.
    pub fn lines_for<'a>(&self, stderr: &'a str, word: &str, name: &str) -> Vec<&'a str> {
        let input = self.path(&format!("in/{name}")).display().to_string();
        // `start` names the file below the input root, the others its path.
        let subject = if word == "start" {
            name.to_string()
        } else {
            input
        };
        let prefix = format!("{word} {subject}");
        stderr
            .lines()
            .filter(|l| {
                l.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ':']))
            })
            .collect()
    }

    /// The stderr lines that report a failure of `in/NAME`: `path: reason`.
    pub fn failure_lines<'a>(&self, stderr: &'a str, name: &str) -> Vec<&'a str> {
        let prefix = format!("{}: ", self.path(&format!("in/{name}")).display());
        stderr.lines().filter(|l| l.starts_with(&prefix)).collect()
    }

    /// `out/report.json`, parsed.
    pub fn report(&self) -> serde_json::Value {
        report_at(&self.path("out/report.json"))
    }
}

/// A report file, parsed.
pub fn report_at(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("report.json is JSON")
}

/// Whether a path below the output root is the run's own (state, reports) rather than
/// a media output.
pub fn is_run_file(relative: &str) -> bool {
    relative.starts_with(".frameforge/")
        || relative.starts_with("report.")
        || relative.starts_with("report-")
}

/// What tells one file from a rewritten one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    pub device: u64,
    pub inode: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileIdentity {
    pub fn of(path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self {
            device: m.dev(),
            inode: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        }
    }
}

/// The path of the `frameforge` binary built for these tests.
pub fn frameforge_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_frameforge"))
}

/// How a finished run ended and what it printed.
#[derive(Debug)]
pub struct RunOutput {
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for RunOutput {
    fn from(output: std::process::Output) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self {
            code: output.status.code(),
            signal: output.status.signal(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// How long the helpers below wait for something that must happen before they give up.
/// A safety net against hanging, never a measure of speed: a slow machine only waits
/// longer.
pub const PATIENCE: Duration = Duration::from_secs(180);

/// Polls `condition` until it holds; panics after [`PATIENCE`] naming `what`.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process running in the background whose stderr is collected line by line as it
/// comes (its stdout is collected too). Killed when dropped, so a failed test leaves
/// nothing running.
pub struct Background {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    stdout_reader: Option<std::thread::JoinHandle<String>>,
}

impl Background {
    /// Spawns `command` with stdout and stderr piped.
    pub fn start(mut command: Command) -> Self {
        command
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the command starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&lines);
        let stderr_reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let mut stdout = child.stdout.take().unwrap();
        let stdout_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
            text
        });
        Self {
            child,
            lines,
            stderr_reader: Some(stderr_reader),
            stdout_reader: Some(stdout_reader),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The stderr lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a stderr line satisfies `condition` and returns it; panics if the
    /// process ends first.
    pub fn wait_for_line(&mut self, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let mut found = None;
        wait_until(what, || {
            found = self.lines().into_iter().find(|l| condition(l));
            if found.is_none() {
                if let Ok(Some(status)) = self.child.try_wait() {
                    // Let the reader catch up with the last lines before giving up.
                    std::thread::sleep(Duration::from_millis(200));
                    found = self.lines().into_iter().find(|l| condition(l));
                    assert!(
                        found.is_some(),
                        "the process ended ({status}) before {what}:\n{}",
                        self.lines().join("\n")
                    );
                }
            }
            found.is_some()
        });
        found.unwrap()
    }

    /// Sends signal `name` (`INT`, `TERM`, `KILL`) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Sends signal `first` and then `second` from one shell with its built-in `kill`,
    /// so the two arrive microseconds apart rather than a process start apart (time in
    /// which a first signal's orderly stop may already have finished a file).
    pub fn signal_twice(&self, first: &str, second: &str) {
        let pid = self.pid();
        let script = format!("kill -s {first} {pid} && kill -s {second} {pid}");
        let status = Command::new("sh")
            .args(["-c", &script])
            .status()
            .expect("sh runs");
        assert!(status.success(), "{script} failed");
    }

    /// Whether the process has not ended yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the end; returns how it ended and everything it printed.
    pub fn wait(mut self) -> RunOutput {
        use std::os::unix::process::ExitStatusExt;
        let status = self.child.wait().expect("wait for the process");
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
        let stdout = self
            .stdout_reader
            .take()
            .map(|r| r.join().unwrap())
            .unwrap_or_default();
        let mut stderr = self.lines().join("\n");
        stderr.push('\n');
        RunOutput {
            code: status.code(),
            signal: status.signal(),
            stdout,
            stderr,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The number of video frames ffprobe decodes in `path`.
pub fn frame_count(path: &Path) -> usize {
    frame_times(path).len()
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

/// An ffprobe `"num/den"` (a rate, a time base) as a number; `None` for `0/0` or
/// anything unparsable.
pub fn ratio(text: &serde_json::Value) -> Option<f64> {
    let (n, d) = text.as_str()?.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then(|| n / d)
}

/// An ffprobe time or duration (`"2.040000"`) in seconds; `None` for `N/A`.
pub fn seconds(value: &serde_json::Value) -> Option<f64> {
    value.as_str()?.parse().ok()
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

/// The stream kinds of a file with each stream's packet count.
pub fn packet_counts(path: &Path) -> Vec<(String, usize)> {
    let probe = probe_with(path, &["-show_entries", "packet=stream_index"]);
    let streams = probe_with(path, &["-show_entries", "stream=codec_type"]);
    let kinds: Vec<String> = streams["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap().to_string())
        .collect();
    let packets = probe["packets"].as_array().unwrap();
    kinds
        .iter()
        .enumerate()
        .map(|(index, kind)| {
            let count = packets
                .iter()
                .filter(|p| p["stream_index"].as_u64() == Some(index as u64))
                .count();
            (kind.clone(), count)
        })
        .collect()
}

/// The lowest per-frame PSNR between two videos of the same frames.
pub fn lowest_psnr(a: &Path, b: &Path) -> f64 {
    let (a, b) = (decode_rgb(a), decode_rgb(b));
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|(x, y)| psnr(x.as_raw(), y.as_raw()))
        .fold(f64::INFINITY, f64::min)
}

/// Largest absolute difference between samples.
pub fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

/// Runs the ffmpeg CLI (quiet, overwriting, no stdin) with `args` and returns its
/// standard output, failing the test with ffmpeg's message if it fails. For making
/// inputs a fixture cannot hold and for reading outputs back.
pub fn ffmpeg<I, S>(args: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
