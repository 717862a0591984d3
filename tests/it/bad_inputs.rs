//! Inputs that cannot be restored: each is reported on one line as `path: reason`, the
//! run exits 1, the good files of the same batch still finish, and nothing partial or
//! temporary is left in the output tree.
//!
//! The batch mixes every file of `fixtures/bad/` with one good clip and one good image:
//! empty, garbage and text files that do not open, an MP4 whose index is missing
//! (`truncated_nomoov.mp4`), an MP4 that opens but whose data stops after 11 of its 24
//! frames (`truncated.mp4`), a Matroska file cut after its header, before any frame
//! (`header_only.mkv`), and a PNG whose pixel data is not zlib (`broken.png`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use crate::util;

use util::{frame_times, frameforge, probe, streams_of, Workspace};

/// Bad fixture → a word its reason must contain (lower case).
const BAD: &[(&str, &str)] = &[
    ("empty.mp4", "empty"),
    ("truncated.mp4", "truncated"),
    ("truncated_nomoov.mp4", "cannot open"),
    (
        "header_only.mkv",
        "no frame of its video stream could be read",
    ),
    ("garbage.mkv", "cannot open"),
    ("notes.mp4", "cannot open"),
    ("broken.png", "cannot decode image"),
];

/// The good files of the batch and their outputs.
const GOOD: &[(&str, &str, &str)] = &[
    ("video/ffv1.mkv", "clip.mkv", "clip.mkv"),
    (
        "images/coffee.jpg",
        "stills/coffee.jpg",
        "stills/coffee.png",
    ),
];

struct Batch {
    ws: Workspace,
    pipeline: std::path::PathBuf,
}

impl Batch {
    /// `existing` is an `output:` line such as `  existing: skip\n`, or empty.
    fn new(existing: &str) -> Self {
        let ws = Workspace::new();
        let bad: Vec<(String, String)> = BAD
            .iter()
            .map(|(name, _)| (format!("bad/{name}"), format!("bad/{name}")))
            .collect();
        let mut files: Vec<(&str, &str)> =
            bad.iter().map(|(f, n)| (f.as_str(), n.as_str())).collect();
        files.extend(GOOD.iter().map(|(f, n, _)| (*f, *n)));
        ws.input(&files);
        // The body follows `output:\n  path: out\n`, so `existing` lands under `output`.
        let pipeline = ws.pipeline(&format!(
            "{existing}stages:\n  - restore:\n      model: {{x2}}\n      tile: 0\n"
        ));
        Self { ws, pipeline }
    }

    /// Runs the batch: (exit code, stderr).
    fn run(&self) -> (i32, String) {
        let output = frameforge()
            .arg("run")
            .arg(&self.pipeline)
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// The stderr lines that start with `input path: `.
    fn lines_for<'a>(&self, stderr: &'a str, relative: &str) -> Vec<&'a str> {
        let prefix = format!("{}: ", self.ws.path(&format!("in/{relative}")).display());
        stderr.lines().filter(|l| l.starts_with(&prefix)).collect()
    }
}

/// The output tree holds exactly the good files' outputs and the run's report and state:
/// nothing for a failed input and no temporary file.
fn assert_only_good_outputs(ws: &Workspace) {
    let files = ws.files_under("out");
    assert!(
        files.iter().all(|f| !f.contains(".frameforge-tmp")),
        "temporary files left: {files:?}"
    );
    let media: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(".frameforge/") && !f.starts_with("report."))
        .filter(|f| !f.ends_with(".xmp"))
        .cloned()
        .collect();
    let mut expected: Vec<String> = GOOD.iter().map(|(_, _, o)| (*o).to_string()).collect();
    expected.sort();
    assert_eq!(media, expected, "output tree");
    // XMP sidecars sit beside good outputs only (an MKV cannot carry XMP inside).
    for sidecar in files.iter().filter(|f| f.ends_with(".xmp")) {
        let beside = sidecar.trim_end_matches(".xmp");
        assert!(expected.iter().any(|e| e == beside), "stray {sidecar}");
    }
    for report in ["report.json", "report.html"] {
        assert!(
            files.iter().any(|f| f == report),
            "{report} missing: {files:?}"
        );
    }
}

/// The good clip and image are complete and restored ×2.
fn assert_good_outputs_are_right(ws: &Workspace) {
    let (source, output) = (ws.path("in/clip.mkv"), ws.path("out/clip.mkv"));
    let (s, o) = (probe(&source), probe(&output));
    let (sv, ov) = (&streams_of(&s, "video")[0], &streams_of(&o, "video")[0]);
    assert_eq!(
        ov["width"].as_u64().unwrap(),
        2 * sv["width"].as_u64().unwrap()
    );
    assert_eq!(
        ov["height"].as_u64().unwrap(),
        2 * sv["height"].as_u64().unwrap()
    );
    assert_eq!(
        frame_times(&output).len(),
        frame_times(&source).len(),
        "clip frames"
    );

    let still = image::open(ws.path("in/stills/coffee.jpg")).unwrap();
    let restored = image::open(ws.path("out/stills/coffee.png")).unwrap();
    assert_eq!(
        (restored.width(), restored.height()),
        (2 * still.width(), 2 * still.height())
    );
}

#[test]
fn each_bad_input_fails_on_one_line_and_good_files_finish() {
    let batch = Batch::new("");
    let (code, stderr) = batch.run();
    assert_eq!(code, 1, "exit code; stderr:\n{stderr}");
    for (name, reason) in BAD {
        let lines = batch.lines_for(&stderr, &format!("bad/{name}"));
        assert_eq!(lines.len(), 1, "{name}: expected one line in:\n{stderr}");
        println!("{}", lines[0]);
        assert!(
            lines[0].to_lowercase().contains(reason),
            "{name}: reason should mention `{reason}`: {}",
            lines[0]
        );
    }
    assert_good_outputs_are_right(&batch.ws);
}

#[test]
fn no_partial_or_temporary_output_is_left() {
    let batch = Batch::new("");
    let (code, stderr) = batch.run();
    assert_eq!(code, 1, "{stderr}");
    assert_only_good_outputs(&batch.ws);
}

/// `truncated.mp4` opens and its index promises 24 frames, but only 11 decode: the
/// file is incomplete, and the message says so and how far it got.
#[test]
fn truncated_mp4_is_reported_as_incomplete() {
    let batch = Batch::new("");
    let (_, stderr) = batch.run();
    let line = batch.lines_for(&stderr, "bad/truncated.mp4")[0];
    assert!(
        line.contains("truncated or damaged") && line.contains(" s of 2.000 s"),
        "{line}"
    );
    assert!(!batch.ws.path("out/bad/truncated.mkv").exists());
}

#[test]
fn rerun_with_existing_skip_skips_finished_files_and_still_fails_bad_ones() {
    let batch = Batch::new("  existing: skip\n");
    let (first, stderr) = batch.run();
    assert_eq!(first, 1, "{stderr}");
    let (code, stderr) = batch.run();
    assert_eq!(code, 1, "second run exit code; stderr:\n{stderr}");
    for (_, input, _) in GOOD {
        let path = batch.ws.path(&format!("in/{input}"));
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("skip ") && l.contains(&path.display().to_string())),
            "{input} not skipped:\n{stderr}"
        );
    }
    for (name, _) in BAD {
        assert_eq!(
            batch.lines_for(&stderr, &format!("bad/{name}")).len(),
            1,
            "{name} not reported again:\n{stderr}"
        );
    }
    assert_only_good_outputs(&batch.ws);
}
