//! The bad-input matrix, one test per kind of bad input. Each runs a batch that was
//! restored once, then adds (or damages) one bad input and a new good file that comes
//! after it, and checks: one `path: reason` line for the bad file, the good file still
//! restored, exit 1, every output already written untouched (for a damaged input, its
//! earlier output too), no temporary left.
//!
//! Besides: a name with spaces and non-ASCII letters restores normally; a file deleted
//! while the batch runs fails alone; an output tree inside the input tree is never read
//! as input; a full disk (a small tmpfs, where one can be mounted) and the file-size
//! limit (`prlimit --fsize`, which raises SIGXFSZ) fail only the file being written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use util::{fixture, frame_count, frameforge_path, Background, FileIdentity, RunOutput, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// A workspace whose first run restored `a.jpg`, `m.png` and `before` (fixture, name).
struct Batch {
    ws: Workspace,
    pipeline: PathBuf,
    /// The outputs after the first run.
    written: BTreeMap<String, FileIdentity>,
}

impl Batch {
    fn restored(before: &[(&str, &str)]) -> Self {
        let ws = Workspace::new();
        ws.input(&[
            ("images/coffee.jpg", "a.jpg"),
            ("images/astronaut.png", "m.png"),
        ]);
        ws.input(before);
        let pipeline = ws.pipeline(RESTORE_X2);
        let first = ws.run(&pipeline, &[]);
        assert_eq!(first.code, Some(0), "first run:\n{}", first.stderr);
        let written = ws.output_identities();
        assert_eq!(written.len(), 2 + before.len(), "{written:?}");
        // A good file after every bad one in name order, so the second run (one file
        // at a time) must get past the failure to restore it.
        ws.input(&[("images/coffee.jpg", "zz.png")]);
        Self {
            ws,
            pipeline,
            written,
        }
    }

    fn input(&self, name: &str) -> PathBuf {
        self.ws.path(&format!("in/{name}"))
    }

    fn second_run(&self) -> RunOutput {
        self.ws.run(&self.pipeline, &["--jobs", "1"])
    }

    /// `bad` (below `in/`) is reported once with a reason containing `reason`, and the
    /// rest of the batch is as it should be.
    fn assert_only_failure(&self, run: &RunOutput, bad: &str, reason: &str) {
        self.assert_failure_line(run, bad, reason);
        self.assert_rest_finished(run);
    }

    fn assert_failure_line(&self, run: &RunOutput, bad: &str, reason: &str) {
        assert_eq!(run.code, Some(1), "exit code:\n{}", run.stderr);
        let lines = self.ws.failure_lines(&run.stderr, bad);
        assert_eq!(
            lines.len(),
            1,
            "one line for {bad} expected:\n{}",
            run.stderr
        );
        println!("{}", lines[0]);
        assert!(
            lines[0].to_lowercase().contains(&reason.to_lowercase()),
            "the reason should say `{reason}`: {}",
            lines[0]
        );
        assert!(
            run.stderr.contains(" 1 failed "),
            "exactly one failure expected:\n{}",
            run.stderr
        );
        let report = self.ws.report();
        let item = report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["input"].as_str() == Some(self.input(bad).to_str().unwrap()))
            .unwrap_or_else(|| panic!("{bad} missing from the report: {report:#}"));
        assert_eq!(item["status"], "failed");
        assert!(!item["error"].as_array().unwrap().is_empty(), "{item:#}");
    }

    /// The new good file is restored, everything written before is untouched, and no
    /// temporary is left.
    fn assert_rest_finished(&self, run: &RunOutput) {
        assert_eq!(
            self.ws.lines_for(&run.stderr, "done", "zz.png").len(),
            1,
            "zz.png was not restored:\n{}",
            run.stderr
        );
        let restored = image::open(self.ws.path("out/zz.png")).unwrap();
        assert_eq!((restored.width(), restored.height()), (192, 128));
        let now = self.ws.output_identities();
        for (name, identity) in &self.written {
            assert_eq!(
                now.get(name),
                Some(identity),
                "{name} was lost or rewritten"
            );
        }
        assert_eq!(self.ws.temporaries_under("out"), Vec::<String>::new());
    }
}

#[test]
fn zero_byte_file_fails_alone_and_keeps_its_earlier_output() {
    let batch = Batch::restored(&[("video/flat_bt709.mkv", "v.mkv")]);
    std::fs::File::create(batch.input("v.mkv")).unwrap();
    let run = batch.second_run();
    batch.assert_only_failure(&run, "v.mkv", "the file is empty (0 bytes)");
    assert_eq!(frame_count(&batch.ws.path("out/v.mkv")), 6);
}

#[test]
fn truncated_video_fails_alone_and_keeps_its_earlier_output() {
    let batch = Batch::restored(&[("video/vfr.mp4", "t.mp4")]);
    std::fs::copy(fixture("bad/truncated.mp4"), batch.input("t.mp4")).unwrap();
    let run = batch.second_run();
    batch.assert_only_failure(&run, "t.mp4", "input is truncated or damaged");
    assert_eq!(frame_count(&batch.ws.path("out/t.mkv")), 10);
}

#[test]
fn garbage_with_a_video_extension_fails_alone() {
    let batch = Batch::restored(&[]);
    std::fs::copy(fixture("bad/garbage.mkv"), batch.input("g.mkv")).unwrap();
    let run = batch.second_run();
    batch.assert_only_failure(&run, "g.mkv", "cannot open input");
    assert!(!batch.ws.path("out/g.mkv").exists());
}

#[test]
fn decode_error_mid_stream_fails_alone_naming_the_time() {
    let batch = Batch::restored(&[("video/mjpeg.avi", "d.avi")]);
    std::fs::copy(
        fixture("damaged/decode_error_mid.avi"),
        batch.input("d.avi"),
    )
    .unwrap();
    let run = batch.second_run();
    batch.assert_only_failure(&run, "d.avi", "video decode error at 0.500 s");
    assert_eq!(frame_count(&batch.ws.path("out/d.mkv")), 12);
}

/// How to run `frameforge` so that a mode-000 file is unreadable to it: as we are when
/// we cannot read it ourselves; as root (which permissions do not stop) without the
/// capabilities that bypass them, through `setpriv`, when that works here; `None` when
/// neither is possible.
fn unprivileged_wrapper(unreadable: &Path) -> Option<Vec<String>> {
    if std::fs::File::open(unreadable).is_err() {
        return Some(Vec::new());
    }
    let wrapper: Vec<String> = [
        "setpriv",
        "--bounding-set=-dac_override,-dac_read_search",
        "--",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    // `setpriv` must work here at all (CAP_SETPCAP), and then fail to read the file.
    let through_wrapper = |path: &Path| {
        Command::new(&wrapper[0])
            .args(&wrapper[1..])
            .arg("cat")
            .arg(path)
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let readable = unreadable.with_file_name("readable-probe");
    std::fs::write(&readable, b"x").unwrap();
    let works = through_wrapper(&readable);
    std::fs::remove_file(&readable).unwrap();
    (works && !through_wrapper(unreadable)).then_some(wrapper)
}

#[test]
fn unreadable_file_fails_alone_or_is_read_where_permissions_do_not_apply() {
    use std::os::unix::fs::PermissionsExt;
    let batch = Batch::restored(&[]);
    let locked = batch.input("u.jpg");
    std::fs::copy(fixture("images/coffee.jpg"), &locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let wrapper = unprivileged_wrapper(&locked);
    let run: RunOutput = match &wrapper {
        Some(wrapper) => {
            let mut command =
                Command::new(wrapper.first().map_or(frameforge_path(), PathBuf::from));
            if !wrapper.is_empty() {
                command.args(&wrapper[1..]).arg(frameforge_path());
            }
            command
                .env_remove("RUST_LOG")
                .arg("run")
                .arg(&batch.pipeline)
                .args(["--jobs", "1"]);
            command.output().unwrap().into()
        }
        None => batch.second_run(),
    };
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    match wrapper {
        Some(wrapper) => {
            println!("u.jpg is unreadable to the run (wrapper: {wrapper:?})");
            batch.assert_only_failure(&run, "u.jpg", "permission denied");
        }
        None => {
            // Root with no way to drop its override: the file is readable, so it must
            // simply be restored.
            println!("permissions do not stop reads here and cannot be dropped: u.jpg is read");
            assert_eq!(run.code, Some(0), "{}", run.stderr);
            batch.assert_rest_finished(&run);
            assert!(batch.ws.path("out/u.png").is_file());
        }
    }
}

#[test]
fn dangling_symlink_fails_alone_saying_where_it_points() {
    let batch = Batch::restored(&[]);
    std::os::unix::fs::symlink("gone.mkv", batch.input("l.mkv")).unwrap();
    let run = batch.second_run();
    batch.assert_only_failure(&run, "l.mkv", "broken symlink to gone.mkv");
}

#[test]
fn symlink_loop_fails_alone_without_walking_in_circles() {
    let batch = Batch::restored(&[]);
    std::fs::create_dir(batch.input("loop")).unwrap();
    std::os::unix::fs::symlink("..", batch.input("loop/up")).unwrap();
    let run = batch.second_run();
    batch.assert_only_failure(&run, "loop/up", "symlink loop");
    // Nothing was found twice through the loop.
    assert_eq!(
        batch.ws.finished_outputs(),
        ["a.png", "m.png", "zz.png"],
        "{}",
        run.stderr
    );
}

#[test]
fn name_with_spaces_and_unicode_is_restored() {
    let ws = Workspace::new();
    let video = "reel één — 1.mkv";
    let still = "dossier ünï/café ✓ 2.jpg";
    ws.input(&[
        ("video/flat_bt709.mkv", video),
        ("images/coffee.jpg", still),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        ws.lines_for(&run.stderr, "done", video).len(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        ws.lines_for(&run.stderr, "done", still).len(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(frame_count(&ws.path(&format!("out/{video}"))), 6);
    let restored = image::open(ws.path("out/dossier ünï/café ✓ 2.png")).unwrap();
    assert_eq!(restored.width(), 192);
    let report = ws.report();
    let inputs: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["input"].as_str().unwrap())
        .collect();
    assert!(inputs.iter().any(|i| i.ends_with(still)), "{inputs:?}");
    // Rerun: both are recognised as finished.
    let rerun = ws.run(&pipeline, &[]);
    assert_eq!(rerun.code, Some(0), "{}", rerun.stderr);
    assert_eq!(ws.lines_for(&rerun.stderr, "skip", video).len(), 1);
    assert_eq!(ws.lines_for(&rerun.stderr, "skip", still).len(), 1);
}

#[test]
fn file_deleted_while_the_batch_runs_fails_alone() {
    let ws = Workspace::new();
    ws.input(&[
        ("video/ffv1.mkv", "a1.mkv"),
        ("video/ffv1.mkv", "a2.mkv"),
        ("video/ffv1.mkv", "a3.mkv"),
        ("images/coffee.jpg", "y.jpg"),
        ("images/astronaut.png", "z.png"),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let mut run: Background = ws.start(&pipeline, &["--jobs", "1"]);
    // Discovery is over once a file starts; y.jpg comes after three clips.
    run.wait_for_line("the first file to start", |l| l.starts_with("start "));
    std::fs::remove_file(ws.path("in/y.jpg")).unwrap();
    let run = run.wait();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let lines = ws.failure_lines(&run.stderr, "y.jpg");
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("No such file or directory"),
        "{}",
        lines[0]
    );
    assert_eq!(
        ws.finished_outputs(),
        ["a1.mkv", "a2.mkv", "a3.mkv", "z.png"],
        "{}",
        run.stderr
    );
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
}

#[test]
fn output_tree_inside_the_input_tree_is_never_read_as_input() {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "a.jpg"),
        ("video/flat_bt709.mkv", "sub/b.mkv"),
    ]);
    let pipeline = ws.pipeline_with("", "in/restored", RESTORE_X2);
    let first = ws.run(&pipeline, &[]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let outputs = ws.files_under("in/restored");
    assert!(outputs.contains(&"a.png".to_string()), "{outputs:?}");
    for run in [ws.run(&pipeline, &[]), ws.run(&pipeline, &["--force"])] {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let restored = ws.path("in/restored").display().to_string();
        assert!(
            !run.stderr.lines().any(|l| {
                (l.starts_with("done ") || l.starts_with("skip ") || l.starts_with("start "))
                    && l.split(" → ").next().unwrap().contains(&restored)
                    || l.starts_with("start restored")
            }),
            "an output was taken as input:\n{}",
            run.stderr
        );
        let report = util::report_at(&ws.path("in/restored/report.json"));
        assert_eq!(report["items"].as_array().unwrap().len(), 2, "{report:#}");
    }
    assert_eq!(ws.files_under("in/restored"), outputs);
}

/// A tmpfs mounted for one test and unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `dir`; `None` where that is not allowed (not root,
    /// no CAP_SYS_ADMIN, no `mount`).
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status();
        status
            .is_ok_and(|s| s.success())
            .then(|| Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A batch for the "no room" tests: two stills (outputs 43 and 36 KB) around a clip
/// encoded losslessly (168 KB), one file at a time in name order.
fn no_room_batch() -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "a.jpg"),
        ("video/ffv1.mkv", "b.mkv"),
        ("images/astronaut.png", "c.png"),
    ]);
    let pipeline = ws.pipeline(&format!("{RESTORE_X2}encode:\n  codec: ffv1\n"));
    (ws, pipeline)
}

/// The clip fails with `reason`, the stills are restored, nothing temporary is left.
fn assert_only_the_clip_failed(ws: &Workspace, run: &RunOutput, reason: &str) {
    assert_eq!(run.code, Some(1), "{run:?}");
    let lines = ws.failure_lines(&run.stderr, "b.mkv");
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    println!("{}", lines[0]);
    assert!(lines[0].contains(reason), "{}", lines[0]);
    assert_eq!(ws.finished_outputs(), ["a.png", "c.png"], "{}", run.stderr);
    for name in ["a.png", "c.png"] {
        image::open(ws.path(&format!("out/{name}"))).unwrap();
    }
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
}

#[test]
fn full_disk_fails_only_the_file_that_does_not_fit() {
    let (ws, pipeline) = no_room_batch();
    // Room for the stills and the state after the first still (about 210 kB: the
    // journal with its crops, caption index tables, WAL and index; a still's XMP is
    // written through a copy of it), not for the 170 kB clip next.
    let Some(_tmpfs) = Tmpfs::mount(&ws.path("out"), "340k") else {
        println!("skipped: a tmpfs cannot be mounted here (see the file-size limit test)");
        return;
    };
    let run = ws.run(&pipeline, &["--jobs", "1"]);
    assert_only_the_clip_failed(&ws, &run, "No space left on device");
}

#[test]
fn file_size_limit_fails_only_the_file_that_exceeds_it() {
    let (ws, pipeline) = no_room_batch();
    if Command::new("prlimit").arg("--version").output().is_err() {
        println!("skipped: prlimit is not installed");
        return;
    }
    // 150 kB: more than each still, less than the clip. Past it, the kernel sends
    // SIGXFSZ, which kills a process that does not handle it.
    let run: RunOutput = Command::new("prlimit")
        .arg("--fsize=150000")
        .arg("--")
        .arg(frameforge_path())
        .arg("run")
        .arg(&pipeline)
        .args(["--jobs", "1"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.signal, None, "killed by a signal:\n{}", run.stderr);
    assert_only_the_clip_failed(&ws, &run, "File too large");
    assert!(ws.path("out/report.json").is_file());
}

/// `city.mpg` and `city.mp4` (here two stills, `scan.jpg` and `scan.png`) both map to
/// one output under the default naming: the second is refused with a hint; with
/// `output.naming: source_extension` both are kept, under names decided at discovery
/// (so `--dry-run` lists them too) that do not depend on what else the folder holds.
#[test]
fn inputs_that_differ_only_in_extension_keep_both_with_source_extension_naming() {
    let ws = Workspace::new();
    ws.input(&[
        ("golden/chelsea_61x47.png", "scan.png"),
        ("images/coffee.jpg", "scan.jpg"),
    ]);
    let stem = ws.pipeline(RESTORE_X2);
    let run = ws.run(&stem, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let failure = ws.failure_lines(&run.stderr, "scan.png").join("\n");
    assert!(
        failure.contains(
            "in/scan.jpg; set `output.naming: source_extension` to keep both (as scan.jpg.png \
             and scan.png), or rename one of them"
        ),
        "{}",
        run.stderr
    );
    let keep = ws.pipeline_with("", "kept", RESTORE_X2);
    let text = std::fs::read_to_string(&keep).unwrap().replace(
        "  path: kept\n",
        "  path: kept\n  naming: source_extension\n",
    );
    std::fs::write(&keep, text).unwrap();
    let dry = ws.run(&keep, &["--dry-run"]);
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    assert!(
        dry.stderr.contains("in/scan.jpg → ") && dry.stderr.contains("kept/scan.jpg.png"),
        "{}",
        dry.stderr
    );
    let run = ws.run(&keep, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        ws.files_under("kept")
            .iter()
            .filter(|f| !util::is_run_file(f))
            .cloned()
            .collect::<Vec<_>>(),
        vec!["scan.jpg.png", "scan.png"]
    );
}
