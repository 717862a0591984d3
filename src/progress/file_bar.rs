//! One running file's progress: its own bar (a count until its number of frames is
//! known, `~` before an estimated total) and its share of the run's bar, credited as its
//! frames are written.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::file_progress::{FileProgress, FrameTotal};

use super::Progress;

/// A file's frames as a bar with an ETA, once their number is known.
const BAR_TEMPLATE: &str = "  {bar:30} {pos}/{len} frames  {fps}  ETA {eta}  {msg}";
/// The same with a total worked out from the duration.
const ESTIMATE_TEMPLATE: &str = "  {bar:30} {pos}/~{len} frames  {fps}  ETA ~{eta}  {msg}";
/// A file's frames as a count, while their number is unknown.
const COUNT_TEMPLATE: &str = "  {spinner} {pos} frames  {fps}  {msg}";

/// One running file's frame progress.
pub struct FileBar<'a> {
    progress: &'a Progress,
    pub(super) bar: Option<ProgressBar>,
    weight: u64,
    /// Frames expected; 0 while unknown.
    total: AtomicU64,
    written: AtomicU64,
    /// The part of `weight` already credited to the run.
    credited: AtomicU64,
}

impl<'a> FileBar<'a> {
    pub(super) fn new(
        progress: &'a Progress,
        bar: Option<ProgressBar>,
        name: &str,
        weight: u64,
    ) -> Self {
        if let Some(bar) = &bar {
            set_style(bar, COUNT_TEMPLATE);
            bar.set_message(name.to_string());
        }
        Self {
            progress,
            bar,
            weight,
            total: AtomicU64::new(0),
            written: AtomicU64::new(0),
            credited: AtomicU64::new(0),
        }
    }

    /// Credits the rest of the file's weight and removes its bar.
    pub(super) fn finish(self) {
        let rest = self
            .weight
            .saturating_sub(self.credited.swap(self.weight, Ordering::Relaxed));
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.progress.credit(rest);
    }

    /// The share of the weight the written frames stand for. An estimate can fall short
    /// of the frames that come: the file's last part is credited when it finishes.
    fn earned(&self) -> u64 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            return 0;
        }
        let written = self.written.load(Ordering::Relaxed).min(total);
        let share = u128::from(self.weight) * u128::from(written) / u128::from(total);
        // At most `weight`, since written ≤ total.
        u64::try_from(share).unwrap_or(self.weight)
    }
}

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

impl FileProgress for FileBar<'_> {
    fn length(&self, total: FrameTotal) {
        let (frames, template) = match total {
            FrameTotal::Known(frames) => (frames, BAR_TEMPLATE),
            FrameTotal::Estimated(frames) => (frames, ESTIMATE_TEMPLATE),
            FrameTotal::Unknown => return,
        };
        self.total.store(frames, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            set_style(bar, template);
            bar.set_length(frames);
        }
    }

    fn advance(&self, frames: u64) {
        let written = self.written.fetch_add(frames, Ordering::Relaxed) + frames;
        if let Some(bar) = &self.bar {
            // An estimate that falls short grows with the frames instead of overflowing.
            if bar.length().is_some_and(|len| len > 0 && written > len) {
                bar.set_length(written);
            }
            bar.inc(frames);
        }
        let earned = self.earned();
        let before = self.credited.fetch_max(earned, Ordering::Relaxed);
        if earned > before {
            self.progress.credit(earned - before);
        }
    }

    fn note(&self, text: &str) {
        self.progress.line(text, false);
    }
}
