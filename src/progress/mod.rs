//! What the user sees while a run goes: on a terminal, indicatif bars for the whole run
//! and for each running file; elsewhere (cron, pipes), one plain line per file started,
//! finished or failed and a periodic progress line, with no escape codes.
//!
//! The run's share of work is weighted by each file's input size, not counted in files,
//! so its ETA moves while one long film runs and a folder of stills next to it does not
//! make the bar jump. Sizes need no file opened ahead, and for material of one kind they
//! follow duration closely.

mod file_bar;
mod log_writer;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use crate::file_progress::clock;
pub use file_bar::FileBar;
pub use log_writer::LogWriter;

/// How often the plain-text mode reports overall progress.
const PLAIN_INTERVAL: Duration = Duration::from_secs(30);

/// The run's progress display.
pub struct Progress {
    mode: Mode,
    files: u64,
    files_over: AtomicU64,
    /// Weight of the files still counted: all of them, less those that did not run.
    total_work: AtomicU64,
    work_done: AtomicU64,
    started: Instant,
    last_plain: Mutex<Instant>,
}

enum Mode {
    Bars {
        multi: MultiProgress,
        overall: ProgressBar,
    },
    Plain {
        quiet: bool,
    },
}

/// A file's weight in the run's progress: its size, at least 1 so that empty files
/// still count.
pub fn weight_of(bytes: u64) -> u64 {
    bytes.max(1)
}

impl Progress {
    /// Bars when stderr is a terminal and not `quiet`, plain lines otherwise. `weights`
    /// are the files' weights ([`weight_of`] their sizes).
    pub fn new(weights: &[u64], quiet: bool) -> Self {
        let mode = if !quiet && std::io::stderr().is_terminal() {
            Self::bars(ProgressDrawTarget::stderr())
        } else {
            Mode::Plain { quiet }
        };
        Self::with_mode(mode, weights)
    }

    fn bars(target: ProgressDrawTarget) -> Mode {
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0));
        if let Ok(style) = ProgressStyle::with_template("{bar:30.cyan} {msg}  ETA {eta}") {
            overall.set_style(style);
        }
        // Drawn from the start and kept moving, not only when the first file ends.
        overall.enable_steady_tick(Duration::from_secs(1));
        // Log lines from anywhere (warnings) print above the bars instead of through them.
        log_writer::show_above(&multi);
        Mode::Bars { multi, overall }
    }

    fn with_mode(mode: Mode, weights: &[u64]) -> Self {
        let total: u64 = weights.iter().copied().map(weight_of).sum();
        let progress = Self {
            mode,
            files: weights.len() as u64,
            files_over: AtomicU64::new(0),
            total_work: AtomicU64::new(total),
            work_done: AtomicU64::new(0),
            started: Instant::now(),
            last_plain: Mutex::new(Instant::now()),
        };
        if let Mode::Bars { overall, .. } = &progress.mode {
            overall.set_length(total);
        }
        progress.show_files();
        progress
    }

    /// A file starts; its bar (or line) is returned for frame progress. `weight` is the
    /// one it has in `new`'s list.
    pub fn start_file(&self, name: &str, weight: u64) -> FileBar<'_> {
        let bar = match &self.mode {
            Mode::Bars { multi, .. } => Some(multi.add(ProgressBar::new(0))),
            Mode::Plain { quiet } => {
                if !quiet {
                    eprintln!("start {name}");
                }
                None
            }
        };
        FileBar::new(self, bar, name, weight_of(weight))
    }

    /// A file that does not run (skipped, failed before it started, a dry run): it
    /// leaves the run's work.
    pub fn pass_over(&self, weight: u64) {
        let weight = weight_of(weight);
        let before = self
            .total_work
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(w.saturating_sub(weight))
            })
            .unwrap_or(0);
        let left = before.saturating_sub(weight);
        if let Mode::Bars { overall, .. } = &self.mode {
            overall.set_length(left);
        }
        self.file_over();
    }

    /// A file is over (whatever its outcome); call after its outcome line, so that the
    /// run's count never runs ahead of what was said.
    pub fn finish_file(&self, bar: FileBar<'_>) {
        bar.finish();
        self.file_over();
    }

    fn file_over(&self) {
        self.files_over.fetch_add(1, Ordering::Relaxed);
        self.show_files();
        self.maybe_plain_line(false);
    }

    /// `amount` more of the run's weight is done.
    fn credit(&self, amount: u64) {
        self.work_done.fetch_add(amount, Ordering::Relaxed);
        if let Mode::Bars { overall, .. } = &self.mode {
            overall.inc(amount);
        }
        self.maybe_plain_line(true);
    }

    fn show_files(&self) {
        if let Mode::Bars { overall, .. } = &self.mode {
            overall.set_message(format!(
                "{}/{} files",
                self.files_over.load(Ordering::Relaxed),
                self.files
            ));
        }
    }

    /// The periodic plain line, at most every [`PLAIN_INTERVAL`]; while a file runs
    /// (`running`) too, so a long film does not leave the log silent.
    fn maybe_plain_line(&self, running: bool) {
        if !matches!(self.mode, Mode::Plain { quiet: false }) {
            return;
        }
        let mut last = self
            .last_plain
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let all_over = self.files_over.load(Ordering::Relaxed) == self.files;
        if last.elapsed() < PLAIN_INTERVAL || (all_over && !running) {
            return;
        }
        *last = Instant::now();
        eprintln!("progress: {}", self.plain_status());
    }

    /// `3/10 files, 41% of the work in 0:02:05, ETA 0:03:00`.
    fn plain_status(&self) -> String {
        let elapsed = self.started.elapsed();
        let done = self.work_done.load(Ordering::Relaxed);
        let total = self.total_work.load(Ordering::Relaxed).max(1);
        let fraction = (done as f64 / total as f64).min(1.0);
        let eta = (fraction > 0.0)
            .then(|| elapsed.mul_f64((1.0 - fraction) / fraction))
            .map_or_else(|| "unknown".to_string(), clock);
        format!(
            "{}/{} files, {:.0}% of the work in {}, ETA {eta}",
            self.files_over.load(Ordering::Relaxed),
            self.files,
            fraction * 100.0,
            clock(elapsed)
        )
    }

    /// A line about one file (done, skip, failure), printed without tearing the bars.
    pub fn line(&self, text: &str, always: bool) {
        match &self.mode {
            // Bars are cleared, the line printed whole, the bars drawn again below it.
            Mode::Bars { multi, .. } => multi.suspend(|| eprintln!("{text}")),
            Mode::Plain { quiet } => {
                if always || !quiet {
                    eprintln!("{text}");
                }
            }
        }
    }

    /// Removes the bars before the summary is printed.
    pub fn clear(&self) {
        if let Mode::Bars { overall, .. } = &self.mode {
            overall.finish_and_clear();
        }
        log_writer::show_plain();
    }
}

#[cfg(test)]
mod tests;
