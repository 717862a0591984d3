//! `--dry-run` touches nothing: no output directory, lock, journal or report is
//! created, an existing output tree is left exactly as it was (its journal read
//! without a write), and the summary says what a run would do.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::collections::BTreeMap;
use std::path::Path;

use util::{FileIdentity, Workspace};

const RESTORE_X2: &str = "stages:\n  - restore:\n      model: {x2}\n      tile: 0\n";

/// Every file and directory below `dir` with what tells a changed one from the same.
fn listing(dir: &Path) -> BTreeMap<String, (bool, FileIdentity)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            let relative = entry.path().strip_prefix(dir).unwrap();
            let identity = FileIdentity::of(entry.path());
            (
                relative.display().to_string(),
                (entry.file_type().is_dir(), identity),
            )
        })
        .collect()
}

#[test]
fn a_dry_run_on_a_new_output_creates_nothing_and_says_what_would_happen() {
    let ws = Workspace::new();
    ws.input(&[
        ("images/coffee.jpg", "a.jpg"),
        ("images/gray.png", "b.png"),
        ("video/ffv1.mkv", "c.mkv"),
    ]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let dry = ws.run(&pipeline, &["--dry-run", "--json"]);
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    assert!(!ws.path("out").exists(), "{}", dry.stderr);
    assert_eq!(
        dry.stderr.lines().last(),
        Some("dry run: would process 3, would skip 0; nothing was written"),
        "{}",
        dry.stderr
    );
    for name in ["a.jpg", "b.png", "c.mkv"] {
        let input = ws.path(&format!("in/{name}")).display().to_string();
        assert_eq!(
            dry.stderr
                .lines()
                .filter(|l| l.starts_with(&format!("would process {input} → ")))
                .count(),
            1,
            "{}",
            dry.stderr
        );
    }
    let summary: serde_json::Value = serde_json::from_str(dry.stdout.trim()).unwrap();
    assert_eq!(
        (
            &summary["dry_run"],
            &summary["would_process"],
            &summary["would_skip"]
        ),
        (&true.into(), &3.into(), &0.into()),
        "{summary}"
    );
}

#[test]
fn a_dry_run_on_an_existing_output_reads_its_journal_and_changes_no_file() {
    let ws = Workspace::new();
    ws.input(&[("images/coffee.jpg", "a.jpg"), ("images/gray.png", "b.png")]);
    let pipeline = ws.pipeline(RESTORE_X2);
    let run = ws.run(&pipeline, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    ws.input(&[("video/ffv1.mkv", "c.mkv")]);
    let before = listing(&ws.path("out"));
    assert!(
        before.contains_key(".frameforge/journal.sqlite"),
        "{before:?}"
    );
    let dry = ws.run(&pipeline, &["--dry-run"]);
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    assert_eq!(listing(&ws.path("out")), before, "{}", dry.stderr);
    assert_eq!(
        dry.stderr.lines().last(),
        Some("dry run: would process 1, would skip 2; nothing was written"),
        "{}",
        dry.stderr
    );
    assert_eq!(ws.lines_for(&dry.stderr, "skip", "a.jpg").len(), 1);
    assert_eq!(ws.lines_for(&dry.stderr, "skip", "b.png").len(), 1);
}
