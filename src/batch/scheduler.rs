//! Running the jobs of a batch in parallel: `jobs` files at once, inference bounded by
//! the shared stage pool, each file's outcome recorded (journal, report) as soon as it
//! ends so a crash loses at most the files in flight. One file's failure is its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::config::{Container, Existing};
use crate::job::Job;
use crate::process::ProcessSettings;
use crate::progress::Progress;
use crate::report::thumbnail::REPORT_THUMBNAILS;
use crate::report::{ItemReport, ModelRecord};

use super::decide::Fingerprints;
use super::item::run_one;
use super::journal::Journal;

/// Everything a job needs besides itself.
pub struct BatchContext<'a> {
    /// How each file is processed.
    pub process: ProcessSettings<'a>,
    /// The container of video outputs.
    pub container: Container,
    pub existing: Existing,
    pub force: bool,
    pub fingerprints: Fingerprints<'a>,
    pub journal: &'a Mutex<Journal>,
    pub progress: &'a Progress,
    /// Where inference runs, as the report says it.
    pub device: String,
    /// Decide only; process nothing.
    pub dry_run: bool,
    /// Checkpoints of long videos; `None`: off.
    pub checkpoints: Option<Checkpointing>,
    /// The restoration models (file and sha256) every finished item is made with.
    pub models: &'a [ModelRecord],
    /// This run's id, which each report entry and journal result carries.
    pub run: &'a str,
    /// The output root, which the journal keeps outputs relative to.
    pub output_root: &'a Path,
}

/// Where long videos keep checkpoints, and how often.
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// The run's state directory in the output root.
    pub state_dir: PathBuf,
    /// Seconds of video per segment.
    pub every: f64,
}

/// Runs `jobs` with `parallel` files at once; returns one report per job started, in
/// the order of `jobs` (jobs never started because of an interruption are left out).
pub fn run_jobs(jobs: &[Job], parallel: usize, context: &BatchContext<'_>) -> Vec<ItemReport> {
    let next = AtomicUsize::new(0);
    let thumbnail_places = AtomicUsize::new(REPORT_THUMBNAILS);
    let results: Vec<Mutex<Option<ItemReport>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| loop {
                if context.process.cancel.is_set() {
                    return;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(index) else { return };
                let report = run_one(job, context, &thumbnail_places);
                if let Ok(mut slot) = results[index].lock() {
                    *slot = Some(report);
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}
