//! Running the jobs of a batch in parallel: `jobs` files at once, inference bounded by
//! the shared stage pool, each file's outcome recorded (journal, report) as soon as it
//! ends so a crash loses at most the files in flight. One file's failure is its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::MediaKind;
use crate::job::{error_chain, Job};
use crate::media::decode::DamagePolicy;
use crate::media::encode::EncodeSettings;
use crate::media::layout::CopyPolicy;
use crate::process::image::restore_image;
use crate::process::output_file::temp_path_for;
use crate::process::video::{restore_video, VideoSettings};
use crate::process::{FileProgress, ProcessError};
use crate::progress::Progress;
use crate::report::{ItemReport, ItemStatus};
use crate::stage::StagePool;

use super::cancel::Cancel;
use super::decide::{decide, journal_key, Decision};
use super::journal::{Finished, InputStamp, Journal};

/// Everything a job needs besides itself.
pub struct BatchContext<'a> {
    pub pool: &'a StagePool,
    pub encode: &'a EncodeSettings,
    pub copy: CopyPolicy,
    pub damage: DamagePolicy,
    pub existing: crate::config::Existing,
    pub force: bool,
    pub fingerprint: &'a str,
    pub journal: &'a Mutex<Journal>,
    pub cancel: &'a Cancel,
    pub progress: &'a Progress,
    /// ffmpeg muxer name for each video output.
    pub muxer_for: &'a (dyn Fn(&Job) -> String + Sync),
    pub device: String,
    /// Decide only; process nothing.
    pub dry_run: bool,
}

/// Runs `jobs` with `parallel` files at once; returns one report per job started, in
/// the order of `jobs` (jobs never started because of an interruption are left out).
pub fn run_jobs(jobs: &[Job], parallel: usize, context: &BatchContext<'_>) -> Vec<ItemReport> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<ItemReport>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| loop {
                if context.cancel.is_set() {
                    return;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(index) else { return };
                let report = run_one(job, context);
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

fn run_one(job: &Job, context: &BatchContext<'_>) -> ItemReport {
    let input = job.input.display().to_string();
    let mut report = ItemReport {
        input: job.input.clone(),
        outputs: vec![job.output.clone()],
        status: ItemStatus::Failed,
        error: Vec::new(),
        reason: None,
        frames: 0,
        seconds: 0.0,
        fps: 0.0,
        device: None,
        preview: None,
    };
    let stamp = match InputStamp::of(&job.input) {
        Ok(stamp) => stamp,
        Err(error) => {
            // The file vanished or became unreadable since discovery.
            report.error = vec![format!("cannot read input: {error}")];
            context
                .progress
                .line(&format!("{input}: {}", report.error[0]), true);
            return report;
        }
    };
    let decision = {
        let journal = context
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        decide(
            job,
            stamp,
            &journal,
            context.fingerprint,
            context.existing,
            context.force,
        )
    };
    match decision {
        Decision::Skip(reason) => {
            context
                .progress
                .line(&format!("skip {input}: {reason}"), false);
            report.status = ItemStatus::Skipped;
            report.reason = Some(reason);
            return report;
        }
        Decision::Fail(reason) => {
            context.progress.line(&format!("{input}: {reason}"), true);
            report.error = vec![reason];
            return report;
        }
        Decision::Run if context.dry_run => {
            context.progress.line(&format!("would process {input}"), false);
            report.status = ItemStatus::Skipped;
            report.reason = Some("dry run".into());
            return report;
        }
        Decision::Run => {}
    }
    // A temporary left by a killed run would otherwise sit there forever.
    let _ = std::fs::remove_file(temp_path_for(&job.output));
    let bar = context
        .progress
        .start_file(&job.relative.display().to_string());
    let started = Instant::now();
    let result = process(job, context, &bar);
    context.progress.finish_file(bar);
    report.seconds = started.elapsed().as_secs_f64();
    match result {
        Ok((frames, width, height, preview)) => {
            report.status = ItemStatus::Done;
            report.frames = frames;
            report.fps = if report.seconds > 0.0 {
                frames as f64 / report.seconds
            } else {
                0.0
            };
            report.device = Some(context.device.clone());
            report.preview = preview;
            let finished = Finished {
                stamp,
                pipeline_hash: context.fingerprint.to_string(),
                outputs: report.outputs.clone(),
            };
            let recorded = context
                .journal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(&journal_key(job), finished);
            if let Err(error) = recorded {
                // The output is complete; only the next run's skip is lost.
                tracing::warn!("{input}: {error}");
            }
            context.progress.line(
                &format!(
                    "done {input} → {} ({width}x{height}, {frames} frame(s), {:.1} s, {:.2} fps)",
                    job.output.display(),
                    report.seconds,
                    report.fps
                ),
                false,
            );
        }
        Err(ProcessError::Interrupted) => {
            report.status = ItemStatus::Interrupted;
            report.error = vec!["interrupted".into()];
            context
                .progress
                .line(&format!("{input}: interrupted",), true);
        }
        Err(error) => {
            report.error = causes(&error);
            context
                .progress
                .line(&format!("{input}: {}", error_chain(&error)), true);
        }
    }
    report
}

type Processed = (u64, u32, u32, Option<crate::report::thumbnail::Preview>);

fn process(
    job: &Job,
    context: &BatchContext<'_>,
    bar: &dyn FileProgress,
) -> Result<Processed, ProcessError> {
    match job.kind {
        MediaKind::Image => {
            bar.length(1);
            let summary = restore_image(&job.input, &job.output, context.pool)?;
            bar.advance(1);
            Ok((1, summary.width, summary.height, summary.preview))
        }
        MediaKind::Video => {
            let format = (context.muxer_for)(job);
            let settings = VideoSettings {
                pool: context.pool,
                encode: context.encode,
                policy: context.copy,
                damage: context.damage,
                format: &format,
                cancel: context.cancel,
            };
            let summary = restore_video(&job.input, &job.output, &settings, bar)?;
            Ok((
                summary.frames,
                summary.width,
                summary.height,
                summary.preview,
            ))
        }
    }
}

/// The error and each cause, outermost first, skipping causes the outer text repeats.
fn causes(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut list = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if list.iter().all(|seen| !seen.contains(&text)) {
            list.push(text);
        }
        source = cause.source();
    }
    list
}
