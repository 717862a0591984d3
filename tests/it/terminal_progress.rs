//! What a run shows on a terminal, read from a pseudo-terminal (`script(1)` from
//! util-linux, as a user's shell would give it): the run's bar from the start, a file's
//! bar with an estimated total (`~24`) when its container states no frame count, every
//! outcome line and warning printed whole above the bars (not padded into them), and
//! the run's file count never ahead of the outcome lines already printed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use std::process::Command;

use util::{frameforge_path, Workspace};

/// Runs `frameforge run pipeline.yaml --jobs 1` in `ws` on a 160-column pseudo-terminal
/// and returns its exit code and what it drew, as the screen's lines and overwrites in
/// order: escape sequences removed, split at carriage returns and newlines, blank
/// pieces dropped.
fn run_on_a_terminal(ws: &Workspace) -> (Option<i32>, Vec<String>) {
    let output = Command::new("script")
        .args([
            "--quiet",
            "--return",
            "--command",
            "stty cols 160 rows 40; exec \"$FRAMEFORGE\" run pipeline.yaml --jobs 1",
            "/dev/null",
        ])
        .env("FRAMEFORGE", frameforge_path())
        .env_remove("RUST_LOG")
        .current_dir(ws.path(""))
        .output()
        .expect("script(1) from util-linux runs");
    let drawn = String::from_utf8_lossy(&output.stdout);
    let mut text = String::new();
    let mut chars = drawn.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            // A control sequence: parameters, then one final letter.
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    let pieces = text
        .split(['\r', '\n'])
        .filter(|piece| !piece.trim().is_empty())
        .map(str::to_string)
        .collect();
    (output.status.code(), pieces)
}

fn is_bar(piece: &str) -> bool {
    piece.contains('█') || piece.contains('░')
}

#[test]
fn a_terminal_gets_bars_with_estimates_and_whole_lines_above_them() {
    let ws = Workspace::new();
    // Sorted: a.mkv (Matroska: no frame count), broken.mkv (fails), tape.mpg
    // (interlaced: warned about).
    ws.input(&[
        ("video/h264_aac_subs_chapters.mkv", "a.mkv"),
        ("bad/header_only.mkv", "broken.mkv"),
        ("video/mpeg2.mpg", "tape.mpg"),
    ]);
    ws.pipeline("device: cpu\nstages:\n  - restore:\n      model: {x2}\n      tile: 0\n");
    let (code, pieces) = run_on_a_terminal(&ws);
    let all = pieces.join("\n");
    assert_eq!(code, Some(1), "{all}");

    // The run's bar is there before anything is over.
    let first_outcome = pieces
        .iter()
        .position(|p| p.starts_with("done ") || p.contains("broken.mkv: "))
        .expect("an outcome line");
    assert!(
        pieces[..first_outcome]
            .iter()
            .any(|p| is_bar(p) && p.contains("0/3 files")),
        "{all}"
    );
    // a.mkv's total is estimated from its duration and rate: 2 s at 12 fps.
    assert!(
        pieces
            .iter()
            .any(|p| is_bar(p) && p.contains("/~24 frames") && p.contains("a.mkv")),
        "{all}"
    );

    // Outcome lines and the warning are whole lines of their own.
    let done_a = "done in/a.mkv → out/a.mkv (192x128, 24 frame(s), ";
    let failed = "in/broken.mkv: input is truncated or damaged: no frame of its video \
                  stream could be read (its pixel format is unknown)";
    let warning = "WARN in/tape.mpg: 12 of 12 frame(s) reached the model interlaced";
    let done_tape = "done in/tape.mpg → out/tape.mkv (192x128, 12 frame(s), ";
    for line in [done_a, failed, warning, done_tape] {
        let found: Vec<&String> = pieces.iter().filter(|p| p.contains(line)).collect();
        assert_eq!(found.len(), 1, "{line}\n{all}");
        let piece = found[0];
        assert!(!is_bar(piece), "drawn into a bar: {piece:?}");
        // (tracing right-aligns its level: ` WARN`.)
        assert_eq!(piece.trim_end(), piece.as_str(), "padded: {piece:?}");
        assert!(piece
            .trim_start()
            .starts_with(line.split(' ').next().unwrap()));
    }
    assert!(pieces.iter().any(|p| p == failed), "{all}");

    // The count of files over never runs ahead of the outcome lines printed.
    let mut outcomes = 0;
    let mut highest = 0;
    for piece in &pieces {
        if piece.starts_with("done ") || piece.starts_with(failed) {
            outcomes += 1;
        }
        if let Some(count) = piece
            .split_whitespace()
            .find_map(|word| word.strip_suffix("/3"))
            .and_then(|count| count.parse::<usize>().ok())
        {
            assert!(
                count <= outcomes,
                "{count}/3 files shown after {outcomes} outcome line(s)\n{all}"
            );
            highest = highest.max(count);
        }
    }
    assert_eq!((outcomes, highest), (3, 3), "{all}");
    assert_eq!(
        pieces.last().map(|p| p.split(" in ").next().unwrap()),
        Some("2 restored, 0 skipped, 1 failed"),
        "{all}"
    );
}
