//! `examples/slurm-array.sh`, unchanged, as a job array on a real Slurm: a one-node
//! cluster started on this machine (`tools/slurm_cluster.sh`: slurmctld, slurmd and
//! munged as root, everything under the test's temporary directory). Three array tasks
//! over six small stills and clips restore every file exactly once: each task exits 0,
//! its shard's report and journal list exactly the files `--shard i/3` owns, and a
//! second submission of the array skips everything and rewrites nothing.
//!
//! Needs root and Debian's `slurm-wlm` and `munge` (`bash tools/setup.sh --tests`);
//! without them the test fails and says so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use util::{frameforge, frameforge_path, model, report_at, root, Workspace, PATIENCE};

/// Fixture → name below `in/`. The names are chosen so that `--shard i/3` gives each
/// task a still and a clip.
const INPUTS: &[(&str, &str)] = &[
    ("golden/astronaut_96x80.png", "pictures/astronaut.png"),
    ("golden/chelsea_61x47.png", "pictures/chelsea.png"),
    ("golden/coffee_72x64.png", "pictures/coffee.png"),
    ("images/gray.png", "pictures/gray.png"),
    ("video/ffv1.mkv", "clips/ffv1.mkv"),
    ("video/flat_bt709.mkv", "clips/flat.mkv"),
];

const SHARDS: u32 = 3;

/// A one-node Slurm cluster under `dir`, stopped when dropped (also when the test
/// panics), which cancels its jobs and ends its daemons.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Self {
        let output = cluster_script("start", dir);
        assert!(
            output.status.success(),
            "could not start a Slurm test cluster with tools/slurm_cluster.sh \
             (it needs root and `bash tools/setup.sh --tests`):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// A Slurm client command (`sbatch`, `squeue`…) talking to this cluster.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", self.dir.join("slurm.conf"));
        command
    }

    /// Runs a client command to the end; fails the test if it fails.
    fn run(&self, program: &str, args: &[&str]) -> String {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Submits `examples/slurm-array.sh` as it is, for `--array=1-3`, one CPU a task, with
    /// each task's output in `log_dir/task-N.log`; returns the job id.
    fn submit_example(&self, ws: &Workspace, pipeline: &Path, log_dir: &Path) -> String {
        std::fs::create_dir_all(log_dir).unwrap();
        let output = self
            .command("sbatch")
            .env_remove("RUST_LOG")
            .current_dir(ws.dir.path())
            .arg("--parsable")
            .arg(format!("--array=1-{SHARDS}"))
            .args(["--cpus-per-task=1", "--mem=1G"])
            .arg(format!("--output={}/task-%a.log", log_dir.display()))
            .arg(format!(
                "--export=ALL,FRAMEFORGE={},PIPELINE={}",
                frameforge_path().display(),
                pipeline.display()
            ))
            .arg(root().join("examples/slurm-array.sh"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "sbatch: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // `--parsable`: `JOBID` or `JOBID;CLUSTER`.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let id = stdout.trim().split(';').next().unwrap().to_string();
        assert!(
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
            "sbatch printed {stdout:?}"
        );
        id
    }

    /// Waits until no task of job `id` is pending or running, then returns each array
    /// task's `(JobState, ExitCode)` by task id. Polls `squeue` rather than using
    /// `sbatch --wait`, which looks at the job only every 2, 8, then 32 s.
    fn wait_for(&self, id: &str, log_dir: &Path) -> BTreeMap<u32, (String, String)> {
        let started = Instant::now();
        loop {
            let queued = self.run("squeue", &["--noheader", "--jobs", id, "--format=%i %T"]);
            if queued.trim().is_empty() {
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "job {id} still queued after {PATIENCE:?}:\n{queued}\n{}",
                task_logs(log_dir)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // Finished jobs stay known for the cluster's MinJobAge (an hour).
        let records = self.run("scontrol", &["--oneliner", "show", "job", id]);
        let mut tasks = BTreeMap::new();
        for line in records.lines().filter(|l| !l.trim().is_empty()) {
            let fields: BTreeMap<&str, &str> = line
                .split_whitespace()
                .filter_map(|f| f.split_once('='))
                .collect();
            let field = |key: &str| {
                fields
                    .get(key)
                    .unwrap_or_else(|| panic!("no {key} in `scontrol show job`: {line}"))
                    .to_string()
            };
            let task: u32 = field("ArrayTaskId")
                .parse()
                .unwrap_or_else(|_| panic!("not one array task: {line}"));
            tasks.insert(task, (field("JobState"), field("ExitCode")));
        }
        tasks
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let output = cluster_script("stop", &self.dir);
        if !output.status.success() {
            eprintln!(
                "tools/slurm_cluster.sh stop: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

fn cluster_script(action: &str, dir: &Path) -> Output {
    Command::new("bash")
        .arg(root().join("tools/slurm_cluster.sh"))
        .arg(action)
        .arg(dir)
        .output()
        .expect("bash runs")
}

/// Every task log in `dir`, for failure messages.
fn task_logs(dir: &Path) -> String {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    logs.sort();
    logs.iter()
        .map(|log| {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            format!("--- {}\n{text}", log.display())
        })
        .collect()
}

/// The names below `in/` that `--shard i/3` owns, by asking frameforge itself (a dry
/// run; after a finished run every owned file is a `skip` line).
fn owned_by_shard(ws: &Workspace, pipeline: &Path, shard: u32) -> BTreeSet<String> {
    let output = frameforge()
        .arg("run")
        .arg(pipeline)
        .args([
            "--shard",
            &format!("{shard}/{SHARDS}"),
            "--dry-run",
            "--json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "dry run of shard {shard}:\n{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let owned: BTreeSet<String> = INPUTS
        .iter()
        .map(|(_, name)| (*name).to_string())
        .filter(|name| !ws.lines_for(&stderr, "skip", name).is_empty())
        .collect();
    assert_eq!(
        summary["would_skip"].as_u64(),
        Some(owned.len() as u64),
        "shard {shard}: {summary}\n{stderr}"
    );
    owned
}

/// A report's items as `(name below in/, status)`.
fn report_items(ws: &Workspace, report: &serde_json::Value) -> Vec<(String, String)> {
    let input_root = ws.path("in");
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let input = PathBuf::from(item["input"].as_str().unwrap());
            let name = input
                .strip_prefix(&input_root)
                .unwrap_or_else(|_| panic!("{} is not below in/", input.display()))
                .display()
                .to_string();
            (name, item["status"].as_str().unwrap().to_string())
        })
        .collect()
}

/// A shard journal's `finished` inputs with their pipeline hash, and its `begun` inputs.
fn journal(path: &Path) -> (BTreeMap<String, String>, Vec<String>) {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let finished = db
        .prepare("SELECT input, pipeline FROM finished")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let begun = db
        .prepare("SELECT input FROM begun")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (finished, begun)
}

fn assert_all_tasks_completed(tasks: &BTreeMap<u32, (String, String)>, logs: &str) {
    let expected: BTreeMap<u32, (String, String)> = (1..=SHARDS)
        .map(|t| (t, ("COMPLETED".to_string(), "0:0".to_string())))
        .collect();
    assert_eq!(
        tasks, &expected,
        "array tasks (JobState, ExitCode):\n{logs}"
    );
}

#[test]
fn slurm_array_example_restores_every_file_exactly_once() {
    let started = Instant::now();
    let ws = Workspace::new();
    // Declared after the workspace, so dropped (stopped) before its directory goes.
    let cluster = Cluster::start(&ws.path("slurm"));
    println!("cluster up in {:.1} s", started.elapsed().as_secs_f64());

    ws.input(INPUTS);
    let pipeline = ws.pipeline(&format!(
        "device: cpu\nstages:\n  - restore:\n      model: {}\n      tile: 0\n",
        model("span-x2-ch48.onnx").display()
    ));
    let names: BTreeSet<String> = INPUTS.iter().map(|(_, n)| (*n).to_string()).collect();

    // First submission: every task restores its share.
    let logs = ws.path("logs/first");
    let job = cluster.submit_example(&ws, &pipeline, &logs);
    let tasks = cluster.wait_for(&job, &logs);
    let first_logs = task_logs(&logs);
    println!(
        "first array done in {:.1} s\n{first_logs}",
        started.elapsed().as_secs_f64()
    );
    assert_all_tasks_completed(&tasks, &first_logs);

    // Every input has exactly one output, and nothing half-written is left.
    assert_eq!(
        ws.finished_outputs().into_iter().collect::<BTreeSet<_>>(),
        names,
        "{first_logs}"
    );
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());
    assert!(
        !ws.path("out/report.json").exists() && !ws.path("out/.frameforge/journal.sqlite").exists(),
        "an unsharded run wrote to out/"
    );

    // Who owns what, as frameforge decides it: the three shares partition the inputs.
    let owned: BTreeMap<u32, BTreeSet<String>> = (1..=SHARDS)
        .map(|shard| (shard, owned_by_shard(&ws, &pipeline, shard)))
        .collect();
    println!("owned by shard: {owned:?}");
    let mut owners: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (shard, files) in &owned {
        assert!(
            !files.is_empty(),
            "shard {shard}/{SHARDS} owns no input, so the test no longer runs three tasks \
             that each restore something: rename the inputs in INPUTS ({owned:?})"
        );
        for file in files {
            owners.entry(file).or_default().push(*shard);
        }
    }
    for name in &names {
        assert_eq!(
            owners.get(name.as_str()).map(Vec::len),
            Some(1),
            "{name} is owned by shards {:?}",
            owners.get(name.as_str())
        );
    }

    // Each task restored exactly its shard's files: its log, report and journal agree.
    let mut pipeline_hashes = BTreeSet::new();
    for (shard, files) in &owned {
        let log = std::fs::read_to_string(logs.join(format!("task-{shard}.log"))).unwrap();
        let restored: BTreeSet<String> = names
            .iter()
            .filter(|name| !ws.lines_for(&log, "done", name).is_empty())
            .cloned()
            .collect();
        assert_eq!(&restored, files, "task {shard} log:\n{log}");

        let report = report_at(&ws.path(&format!("out/report-{shard}-of-{SHARDS}.json")));
        let items = report_items(&ws, &report);
        let expected: Vec<(String, String)> = files
            .iter()
            .map(|f| (f.clone(), "done".to_string()))
            .collect();
        let mut listed = items.clone();
        listed.sort();
        assert_eq!(listed, expected, "report of shard {shard}: {report:#}");
        assert_eq!(
            (
                report["done"].as_u64(),
                report["skipped"].as_u64(),
                report["failed"].as_u64(),
                report["exit_code"].as_u64()
            ),
            (Some(files.len() as u64), Some(0), Some(0), Some(0)),
            "report of shard {shard}: {report:#}"
        );

        let (finished, begun) = journal(&ws.path(&format!(
            "out/.frameforge/journal-{shard}-of-{SHARDS}.sqlite"
        )));
        assert_eq!(
            &finished.keys().cloned().collect::<BTreeSet<_>>(),
            files,
            "journal of shard {shard}"
        );
        assert!(
            begun.is_empty(),
            "shard {shard} left items begun: {begun:?}"
        );
        pipeline_hashes.extend(finished.into_values());
    }
    assert_eq!(
        pipeline_hashes.len(),
        1,
        "the shards recorded different pipelines: {pipeline_hashes:?}"
    );

    // The same array again: every task finds its share finished and rewrites nothing.
    let before = ws.output_identities();
    let logs = ws.path("logs/rerun");
    let job = cluster.submit_example(&ws, &pipeline, &logs);
    let tasks = cluster.wait_for(&job, &logs);
    let rerun_logs = task_logs(&logs);
    assert_all_tasks_completed(&tasks, &rerun_logs);
    for (shard, files) in &owned {
        let report = report_at(&ws.path(&format!("out/report-{shard}-of-{SHARDS}.json")));
        assert_eq!(
            (
                report["done"].as_u64(),
                report["skipped"].as_u64(),
                report["failed"].as_u64()
            ),
            (Some(0), Some(files.len() as u64), Some(0)),
            "rerun report of shard {shard}: {report:#}"
        );
        let log = std::fs::read_to_string(logs.join(format!("task-{shard}.log"))).unwrap();
        for name in files {
            assert_eq!(
                ws.lines_for(&log, "skip", name).len(),
                1,
                "task {shard} rerun, {name}:\n{log}"
            );
        }
    }
    assert_eq!(ws.output_identities(), before, "the rerun rewrote outputs");
    println!(
        "rerun done; whole test {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
