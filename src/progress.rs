//! What the user sees while a run goes: on a terminal, indicatif bars for the whole run
//! and for each running file; elsewhere (cron, pipes), one plain line per file started,
//! finished or failed and a periodic progress line, with no escape codes.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::file_progress::FileProgress;

/// How often the plain-text mode reports overall progress.
const PLAIN_INTERVAL: Duration = Duration::from_secs(30);

/// The run's progress display.
pub struct Progress {
    mode: Mode,
    total: u64,
    finished: AtomicU64,
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

impl Progress {
    /// Bars when stderr is a terminal and not `quiet`, plain lines otherwise.
    pub fn new(total: u64, quiet: bool) -> Self {
        let mode = if !quiet && std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(total));
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30.cyan} {pos}/{len} files  ETA {eta}  {msg}")
            {
                overall.set_style(style);
            }
            // Drawn from the start and kept moving, not only when the first file ends.
            overall.enable_steady_tick(Duration::from_secs(1));
            Mode::Bars { multi, overall }
        } else {
            Mode::Plain { quiet }
        };
        Self {
            mode,
            total,
            finished: AtomicU64::new(0),
            started: Instant::now(),
            last_plain: Mutex::new(Instant::now()),
        }
    }

    /// A file starts; its bar (or line) is returned for frame progress.
    pub fn start_file(&self, name: &str) -> FileBar {
        match &self.mode {
            Mode::Bars { multi, .. } => {
                let bar = multi.add(ProgressBar::new(0));
                // Until the file says how many frames it has: a count, not a full bar.
                set_style(&bar, COUNT_TEMPLATE);
                bar.set_message(name.to_string());
                FileBar { bar: Some(bar) }
            }
            Mode::Plain { quiet } => {
                if !quiet {
                    eprintln!("start {name}");
                }
                FileBar { bar: None }
            }
        }
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

    /// A file is over (whatever its outcome).
    pub fn finish_file(&self, bar: FileBar) {
        let finished = self.finished.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = bar.bar {
            bar.finish_and_clear();
        }
        match &self.mode {
            Mode::Bars { overall, .. } => overall.inc(1),
            Mode::Plain { quiet: false } => {
                let mut last = self
                    .last_plain
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if last.elapsed() >= PLAIN_INTERVAL {
                    *last = Instant::now();
                    eprintln!(
                        "progress: {finished}/{} files in {:.0} s",
                        self.total,
                        self.started.elapsed().as_secs_f64()
                    );
                }
            }
            Mode::Plain { quiet: true } => {}
        }
    }

    /// Removes the bars before the summary is printed.
    pub fn clear(&self) {
        if let Mode::Bars { overall, .. } = &self.mode {
            overall.finish_and_clear();
        }
    }
}

/// One running file's frame progress.
pub struct FileBar {
    bar: Option<ProgressBar>,
}

/// A file's frames as a bar with an ETA, once their number is known.
const BAR_TEMPLATE: &str = "  {bar:30} {pos}/{len} frames  {fps}  ETA {eta}  {msg}";
/// A file's frames as a count, while their number is unknown.
const COUNT_TEMPLATE: &str = "  {spinner} {pos} frames  {fps}  {msg}";

fn set_style(bar: &ProgressBar, template: &str) {
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.with_key(
            "fps",
            |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.1} fps", state.per_sec());
            },
        ));
    }
}

impl FileProgress for FileBar {
    fn length(&self, frames: u64) {
        if let Some(bar) = &self.bar {
            if frames > 0 {
                set_style(bar, BAR_TEMPLATE);
                bar.set_length(frames);
            }
        }
    }

    fn advance(&self, frames: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(frames);
        }
    }
}
