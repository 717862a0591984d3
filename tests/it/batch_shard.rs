//! `--shard i/n`: copies 1/3, 2/3 and 3/3 running side by side over one input tree into
//! one output produce every output exactly once, each with its own journal and report,
//! and a later unsharded run finds everything finished; a bad shard spec is a usage
//! error (exit 2) that says what is expected.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::collections::BTreeMap;

use util::{report_at, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

#[test]
fn three_shards_together_restore_every_file_exactly_once() {
    let ws = Workspace::new();
    let sources = [
        "images/coffee.jpg",
        "images/astronaut.png",
        "images/gray.png",
    ];
    let names: Vec<String> = (0..12)
        .map(|i| format!("dir{}/still{i:02}.png", i % 3))
        .collect();
    let files: Vec<(&str, &str)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (sources[i % sources.len()], n.as_str()))
        .collect();
    ws.input(&files);
    // A bad input is reported by exactly one shard too.
    ws.input(&[("bad/garbage.mkv", "dir1/garbage.mkv")]);
    let pipeline = ws.pipeline(RESTORE_X2);

    let runs: Vec<_> = (1..=3)
        .map(|i| ws.start(&pipeline, &["--shard", &format!("{i}/3"), "--jobs", "1"]))
        .collect();
    let mut restored_by: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut failed_by = Vec::new();
    for (i, run) in (1..=3).zip(runs) {
        let out = run.wait();
        // Shards never block each other (no exit 75).
        assert!(matches!(out.code, Some(0 | 1)), "shard {i}: {out:?}");
        for name in &names {
            if !ws.lines_for(&out.stderr, "done", name).is_empty() {
                restored_by.entry(name.clone()).or_default().push(i);
            }
        }
        if !ws.failure_lines(&out.stderr, "dir1/garbage.mkv").is_empty() {
            failed_by.push(i);
        }
        // Each shard's own report lists what it did.
        let report = report_at(&ws.path(&format!("out/report-{i}-of-3.json")));
        assert_eq!(
            report["items"].as_array().unwrap().len(),
            report["done"].as_u64().unwrap() as usize + report["failed"].as_u64().unwrap() as usize,
            "shard {i}: {report:#}"
        );
        assert!(ws
            .path(&format!("out/.frameforge/journal-{i}-of-3.sqlite"))
            .is_file());
    }
    println!("restored by shard: {restored_by:?}");
    for name in &names {
        assert_eq!(
            restored_by.get(name).map(Vec::len),
            Some(1),
            "{name} restored by shards {:?}",
            restored_by.get(name)
        );
    }
    assert_eq!(
        failed_by.len(),
        1,
        "garbage.mkv reported by shards {failed_by:?}"
    );
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(ws.finished_outputs(), expected);
    assert_eq!(ws.temporaries_under("out"), Vec::<String>::new());

    // An unsharded run reads every shard's journal: all finished.
    let whole = ws.run(&pipeline, &[]);
    assert_eq!(whole.code, Some(1), "{}", whole.stderr);
    for name in &names {
        assert_eq!(
            ws.lines_for(&whole.stderr, "skip", name).len(),
            1,
            "{name}:\n{}",
            whole.stderr
        );
    }
}

#[test]
fn bad_shard_spec_is_a_usage_error() {
    let ws = Workspace::new();
    ws.input(&[("images/coffee.jpg", "a.jpg")]);
    let pipeline = ws.pipeline(RESTORE_X2);
    for spec in ["0/3", "4/3", "1/0", "x/3", "3"] {
        let run = ws.run(&pipeline, &["--shard", spec]);
        assert_eq!(run.code, Some(2), "{spec}: {run:?}");
        assert!(
            run.stderr.contains(&format!(
                "invalid shard `{spec}` (expected i/n with 1 <= i <= n"
            )),
            "{spec}: {}",
            run.stderr
        );
        assert!(!ws.path("out").exists(), "{spec}: something was written");
    }
}
