//! Running the jobs of a batch in parallel: `jobs` files at once, inference bounded by
//! the shared stage pool, each file's outcome recorded (journal, report) as soon as it
//! ends so a crash loses at most the files in flight. One file's failure is its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::MediaKind;
use crate::file_progress::FileProgress;
use crate::job::{causes, Job};
use crate::media::decode::DamagePolicy;
use crate::media::encode::EncodeSettings;
use crate::media::layout::CopyPolicy;
use crate::media::muxer_format::MuxerFormat;
use crate::output_file::temp_path_for;
use crate::process::checkpoints::{checkpoint_dir, remove_dir, CheckpointSpec};
use crate::process::image::restore_image;
use crate::process::video::{restore_video, VideoSettings};
use crate::process::ProcessError;
use crate::progress::Progress;
use crate::report::thumbnail::{take_thumbnail_place, REPORT_THUMBNAILS};
use crate::report::{CaptionLine, ItemReport, ItemStatus};
use crate::stage::caption::CaptionPool;
use crate::stage::StagePool;

use super::decide::{decide, journal_key, Decision, Fingerprints};
use super::journal::{Finished, InputStamp, Journal};
use crate::cancel::Cancel;

/// Everything a job needs besides itself.
pub struct BatchContext<'a> {
    pub pool: &'a StagePool,
    pub captions: Option<&'a CaptionPool>,
    pub encode: &'a EncodeSettings,
    pub copy: CopyPolicy,
    pub damage: DamagePolicy,
    pub existing: crate::config::Existing,
    pub force: bool,
    pub fingerprints: Fingerprints<'a>,
    pub journal: &'a Mutex<Journal>,
    pub cancel: &'a Cancel,
    pub progress: &'a Progress,
    /// The muxer of each video output.
    pub muxer_for: &'a (dyn Fn(&Job) -> MuxerFormat + Sync),
    pub device: String,
    /// Decide only; process nothing.
    pub dry_run: bool,
    /// Checkpoints of long videos; `None`: off.
    pub checkpoints: Option<Checkpointing>,
}

/// Where long videos keep checkpoints, and how often.
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// The run's state directory in the output root.
    pub state_dir: std::path::PathBuf,
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
                if context.cancel.is_set() {
                    return;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(index) else { return };
                let mut report = run_one(job, context);
                if report.preview.is_some() && !take_thumbnail_place(&thumbnail_places) {
                    report.preview = None;
                }
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
    // What is there once the item is over: nothing for a failure.
    let mut report = ItemReport::failed(&job.input);
    // A temporary left by a killed run would otherwise sit there forever, also when the
    // item itself turns out finished (a `--force` rerun killed while redoing it). The
    // job is this run's (lock and shard), so no other run is writing that temporary.
    // A dry run changes nothing.
    if !context.dry_run {
        let _ = std::fs::remove_file(temp_path_for(&job.output));
    }
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
        let mut journal = context
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let decision = decide(
            job,
            stamp,
            &journal,
            context.fingerprints,
            context.existing,
            context.force,
        );
        if decision == Decision::Run && !context.dry_run {
            if let Err(error) = journal.begin(&journal_key(job)) {
                // Processing can go on; only the next run's view of this item is less sure.
                tracing::warn!("{input}: {error}");
            }
        }
        decision
    };
    match decision {
        Decision::Skip(reason) => {
            context
                .progress
                .line(&format!("skip {input}: {reason}"), false);
            report.status = ItemStatus::Skipped;
            report.outputs = vec![job.output.clone()];
            report.reason = Some(reason);
            return report;
        }
        Decision::Fail(reason) => {
            context.progress.line(&format!("{input}: {reason}"), true);
            report.error = vec![reason];
            return report;
        }
        Decision::Run if context.dry_run => {
            let output = job.output.display();
            context
                .progress
                .line(&format!("would process {input} → {output}"), false);
            report.status = ItemStatus::Skipped;
            report.reason = Some("dry run".into());
            return report;
        }
        Decision::Run => {}
    }
    let bar = context
        .progress
        .start_file(&job.relative.display().to_string());
    let started = Instant::now();
    let checkpoints = context.checkpoints.as_ref().map(|c| CheckpointSpec {
        dir: checkpoint_dir(&c.state_dir, &journal_key(job)),
        identity: format!(
            "{} {} {}",
            stamp.size, stamp.mtime_ns, context.fingerprints.damaged
        ),
        every: c.every,
    });
    if let (Some(spec), true) = (&checkpoints, context.force) {
        // `--force` redoes everything, from each video's first frame.
        if let Err(error) = remove_dir(&spec.dir) {
            tracing::warn!("{input}: cannot remove {}: {error}", spec.dir.display());
        }
    }
    let result = process(job, context, checkpoints.as_ref(), &bar);
    context.progress.finish_file(bar);
    report.seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(Processed {
            frames,
            resumed,
            width,
            height,
            damaged,
            preview,
            outputs,
            captions,
            warnings,
        }) => {
            report.status = ItemStatus::Done;
            report.captions = captions
                .into_iter()
                .map(|cue| CaptionLine {
                    start: cue.start,
                    end: cue.end,
                    text: cue.text,
                })
                .collect();
            report.warnings = warnings;
            report.outputs = outputs;
            report.frames = frames;
            report.resumed_frames = resumed;
            report.fps = if report.seconds > 0.0 {
                frames.saturating_sub(resumed) as f64 / report.seconds
            } else {
                0.0
            };
            report.device = Some(context.device.clone());
            report.preview = preview;
            let fingerprint = if damaged > 0 {
                context.fingerprints.damaged
            } else {
                context.fingerprints.clean
            };
            let finished = Finished {
                stamp,
                pipeline_hash: fingerprint.to_string(),
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
            } else if let Some(spec) = &checkpoints {
                // Only once the journal has the item: a crash before that redoes it,
                // and the segments make that quick.
                if let Err(error) = remove_dir(&spec.dir) {
                    tracing::warn!("{input}: cannot remove {}: {error}", spec.dir.display());
                }
            }
            let resumed = if resumed > 0 {
                format!(", {resumed} from checkpoints")
            } else {
                String::new()
            };
            context.progress.line(
                &format!(
                    "done {input} → {} ({width}x{height}, {frames} frame(s){resumed}, {:.1} s, {:.2} fps)",
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
            // The terminal says what the report says.
            report.error = causes(&error);
            context
                .progress
                .line(&format!("{input}: {}", report.error.join(": ")), true);
        }
    }
    report
}

/// What a finished file did.
struct Processed {
    frames: u64,
    /// Of `frames`, those taken from an earlier run's checkpoints.
    resumed: u64,
    width: u32,
    height: u32,
    /// Frames that could not be decoded and were left out or repeated.
    damaged: u64,
    preview: Option<crate::report::thumbnail::Preview>,
    /// Every file written.
    outputs: Vec<std::path::PathBuf>,
    captions: Vec<crate::caption::cues::Cue>,
    warnings: Vec<String>,
}

fn process(
    job: &Job,
    context: &BatchContext<'_>,
    checkpoints: Option<&CheckpointSpec>,
    bar: &dyn FileProgress,
) -> Result<Processed, ProcessError> {
    match job.kind {
        MediaKind::Image => {
            bar.length(1);
            let summary = restore_image(&job.input, &job.output, context.pool, context.captions)?;
            bar.advance(1);
            Ok(Processed {
                frames: 1,
                resumed: 0,
                width: summary.width,
                height: summary.height,
                damaged: 0,
                preview: summary.preview,
                outputs: summary.outputs,
                captions: summary.captions,
                warnings: summary.warnings,
            })
        }
        MediaKind::Video => {
            let format = (context.muxer_for)(job);
            let settings = VideoSettings {
                pool: context.pool,
                captions: context.captions,
                encode: context.encode,
                policy: context.copy,
                damage: context.damage,
                format: &format,
                cancel: context.cancel,
                checkpoints,
            };
            let summary = restore_video(&job.input, &job.output, &settings, bar)?;
            Ok(Processed {
                frames: summary.frames,
                resumed: summary.resumed,
                width: summary.width,
                height: summary.height,
                damaged: summary.damaged,
                preview: summary.preview,
                outputs: summary.outputs,
                captions: summary.captions,
                warnings: summary.warnings,
            })
        }
    }
}
