use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::ProgressDrawTarget;

use super::*;
use crate::file_progress::{FileProgress, FrameTotal};

fn hidden_bars(weights: &[u64]) -> Progress {
    Progress::with_mode(Progress::bars(ProgressDrawTarget::hidden()), weights)
}

fn overall(progress: &Progress) -> &ProgressBar {
    match &progress.mode {
        Mode::Bars { overall, .. } => overall,
        Mode::Plain { .. } => unreachable!("bars were asked for"),
    }
}

#[test]
fn the_run_moves_while_a_long_file_runs_by_its_weight() {
    let progress = hidden_bars(&[300, 100]);
    assert_eq!(overall(&progress).length(), Some(400));
    let film = progress.start_file("film.mkv", 300);
    film.length(FrameTotal::Known(10));
    film.advance(5);
    assert_eq!(overall(&progress).position(), 150);
    assert_eq!(overall(&progress).message(), "0/2 files");
    progress.finish_file(film);
    assert_eq!(overall(&progress).position(), 300);
    assert_eq!(overall(&progress).message(), "1/2 files");
}

#[test]
fn a_file_that_does_not_run_leaves_the_runs_work() {
    let progress = hidden_bars(&[300, 100]);
    progress.pass_over(300);
    assert_eq!(overall(&progress).length(), Some(100));
    assert_eq!(overall(&progress).message(), "1/2 files");
}

#[test]
fn an_estimate_that_falls_short_grows_and_credits_no_more_than_the_file() {
    let progress = hidden_bars(&[1000]);
    let file = progress.start_file("tape.mpg", 1000);
    file.length(FrameTotal::Estimated(4));
    file.advance(3);
    assert_eq!(progress.work_done.load(Ordering::Relaxed), 750);
    file.advance(3);
    assert_eq!(file.bar.as_ref().and_then(ProgressBar::length), Some(6));
    assert_eq!(progress.work_done.load(Ordering::Relaxed), 1000);
    progress.finish_file(file);
    assert_eq!(progress.work_done.load(Ordering::Relaxed), 1000);
}

#[test]
fn a_file_of_unknown_length_is_credited_when_it_finishes() {
    let progress = hidden_bars(&[50, 50]);
    let file = progress.start_file("a.mkv", 50);
    file.length(FrameTotal::Unknown);
    file.advance(7);
    assert_eq!(file.bar.as_ref().map(ProgressBar::position), Some(7));
    assert_eq!(overall(&progress).position(), 0);
    progress.finish_file(file);
    assert_eq!(overall(&progress).position(), 50);
}

#[test]
fn empty_files_still_count() {
    let progress = hidden_bars(&[0, 0]);
    assert_eq!(overall(&progress).length(), Some(2));
}

#[test]
fn the_plain_line_gives_files_share_and_eta() {
    let progress = Progress::with_mode(Mode::Plain { quiet: true }, &[100, 100, 200]);
    progress.pass_over(100);
    let status = progress.plain_status();
    assert!(
        status.starts_with("1/3 files, 0% of the work in 0:00:0"),
        "{status}"
    );
    assert!(status.ends_with("ETA unknown"), "{status}");
    progress.credit(150);
    let status = progress.plain_status();
    assert!(
        status.starts_with("1/3 files, 50% of the work in"),
        "{status}"
    );
}

#[test]
fn times_print_as_a_clock() {
    assert_eq!(clock(Duration::from_secs(0)), "0:00:00");
    assert_eq!(clock(Duration::from_secs(750)), "0:12:30");
    assert_eq!(clock(Duration::from_secs(3 * 3600 + 61)), "3:01:01");
}
