//! One item of a batch from start to record: clear a killed run's temporary, ask the
//! journal whether it runs, process it (resuming from checkpoints), then record it in
//! the journal, say so on the terminal and give its report entry.

use std::sync::atomic::AtomicUsize;
use std::sync::PoisonError;
use std::time::Instant;

use crate::config::MediaKind;
use crate::file_progress::{FileProgress, FrameTotal};
use crate::job::{causes, Job};
use crate::output_file::temp_path_for;
use crate::process::checkpoints::{checkpoint_dir, remove_dir, CheckpointSpec};
use crate::process::image::restore_image;
use crate::process::output_encoding::output_encoding;
use crate::process::settings::muxer_for;
use crate::process::video::{restore_video, VideoOutput};
use crate::process::ProcessError;
use crate::report::{FileSummary, ItemReport, ItemStatus};

use super::decide::{decide, journal_key, Decision};
use super::item_result::{keep_crops, record_failure, result_record, stamped, within_places};
use super::journal::{Finished, InputStamp};
use super::scheduler::BatchContext;

/// Runs one job to its report entry; a failure is the item's own. A finished item's
/// crops take one of the run's `places`.
pub(super) fn run_one(job: &Job, context: &BatchContext<'_>, places: &AtomicUsize) -> ItemReport {
    if !context.dry_run {
        remove_stale_temporary(job);
    }
    let stamp = match InputStamp::of(&job.input) {
        Ok(stamp) => stamp,
        // The file vanished or became unreadable since discovery.
        Err(error) => {
            context.progress.pass_over(0);
            return failed(job, format!("cannot read input: {error}"), context);
        }
    };
    let report = match decide_and_begin(job, stamp, context) {
        Decision::Skip(reason) => skipped(job, reason, context),
        Decision::Fail(reason) => failed(job, reason, context),
        Decision::Run if context.dry_run => would_process(job, context),
        Decision::Run => return run_decided(job, stamp, context, places),
    };
    context.progress.pass_over(stamp.size);
    report
}

/// Processes a job the journal says runs, to its report entry.
fn run_decided(
    job: &Job,
    stamp: InputStamp,
    context: &BatchContext<'_>,
    places: &AtomicUsize,
) -> ItemReport {
    let checkpoints = checkpoint_spec(job, stamp, context);
    let bar = context
        .progress
        .start_file(&job.relative.display().to_string(), stamp.size);
    let started = Instant::now();
    let result = process(job, context, checkpoints.as_ref(), &bar);
    let seconds = started.elapsed().as_secs_f64();
    let report = match result {
        Ok(summary) => {
            let done = Done::of(&summary);
            let report = ItemReport {
                models: context.models.to_vec(),
                ..ItemReport::done(&job.input, summary, seconds, context.device.clone())
            };
            let report = within_places(stamped(report, job, context), places);
            finished(job, stamp, (report, done), checkpoints.as_ref(), context)
        }
        Err(error) => not_finished(job, &error, seconds, context),
    };
    // After the outcome line, so the run's count never runs ahead of what was said.
    context.progress.finish_file(bar);
    report
}

/// Removes a temporary left at the job's output by a killed run; it would otherwise sit
/// there forever, also when the item itself turns out finished (a `--force` rerun killed
/// while redoing it). The job is this run's (lock and shard), so no other run is writing
/// that temporary.
fn remove_stale_temporary(job: &Job) {
    let _ = std::fs::remove_file(temp_path_for(&job.output));
}

/// Asks the journal whether the job runs, and marks it begun when it does (unless this
/// is a dry run).
fn decide_and_begin(job: &Job, stamp: InputStamp, context: &BatchContext<'_>) -> Decision {
    let mut journal = context
        .journal
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
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
            tracing::warn!("{}: {error}", job.input.display());
        }
    }
    decision
}

fn skipped(job: &Job, reason: String, context: &BatchContext<'_>) -> ItemReport {
    let input = job.input.display();
    context
        .progress
        .line(&format!("skip {input}: {reason}"), false);
    let report = ItemReport {
        status: ItemStatus::Skipped,
        outputs: vec![job.output.clone()],
        reason: Some(reason),
        ..ItemReport::failed(&job.input)
    };
    stamped(report, job, context)
}

/// A job that failed before processing began.
fn failed(job: &Job, reason: String, context: &BatchContext<'_>) -> ItemReport {
    context
        .progress
        .line(&format!("{}: {reason}", job.input.display()), true);
    let report = ItemReport {
        error: vec![reason],
        ..ItemReport::failed(&job.input)
    };
    let report = stamped(report, job, context);
    record_failure(&report, job, context);
    report
}

/// What a run would do with a job it would process: say so, with the encoder a video
/// would get when it is not the pipeline's, or the refusal it would fail with.
fn would_process(job: &Job, context: &BatchContext<'_>) -> ItemReport {
    let settings = &context.process;
    let encoding = match job.kind {
        MediaKind::Video if settings.pool.plan().writes_media() => output_encoding(
            settings.encode,
            &muxer_for(context.container, &job.output),
            settings.codec_named,
        )
        .map(|encoding| encoding.warning),
        _ => Ok(None),
    };
    let note = match encoding {
        Ok(note) => note.map(|note| format!(" ({note})")).unwrap_or_default(),
        Err(refusal) => return failed(job, refusal.to_string(), context),
    };
    let (input, output) = (job.input.display(), job.output.display());
    context
        .progress
        .line(&format!("would process {input} → {output}{note}"), false);
    let report = ItemReport {
        status: ItemStatus::WouldProcess,
        outputs: vec![job.output.clone()],
        ..ItemReport::failed(&job.input)
    };
    stamped(report, job, context)
}

/// Where this job's video keeps its checkpoints, when the run keeps any. Under `--force`
/// an earlier run's are removed first: it redoes everything, from each video's first
/// frame.
fn checkpoint_spec(
    job: &Job,
    stamp: InputStamp,
    context: &BatchContext<'_>,
) -> Option<CheckpointSpec> {
    let spec = context.checkpoints.as_ref().map(|c| CheckpointSpec {
        dir: checkpoint_dir(&c.state_dir, &journal_key(job)),
        identity: format!(
            "{} {} {}",
            stamp.size, stamp.mtime_ns, context.fingerprints.damaged
        ),
        every: c.every,
    })?;
    if context.force {
        remove_checkpoints(job, &spec);
    }
    Some(spec)
}

fn remove_checkpoints(job: &Job, spec: &CheckpointSpec) {
    if let Err(error) = remove_dir(&spec.dir) {
        tracing::warn!(
            "{}: cannot remove {}: {error}",
            job.input.display(),
            spec.dir.display()
        );
    }
}

/// Processes the job's file as what it is.
fn process(
    job: &Job,
    context: &BatchContext<'_>,
    checkpoints: Option<&CheckpointSpec>,
    bar: &dyn FileProgress,
) -> Result<FileSummary, ProcessError> {
    let settings = &context.process;
    match job.kind {
        MediaKind::Image => {
            bar.length(FrameTotal::Known(1));
            let summary = restore_image(
                &job.input,
                &job.output,
                settings.pool,
                settings.captions,
                &settings.xmp,
            )?;
            bar.advance(1);
            Ok(summary)
        }
        MediaKind::Video => {
            let output = VideoOutput {
                path: &job.output,
                format: muxer_for(context.container, &job.output),
                checkpoints,
            };
            restore_video(&job.input, &output, settings, bar)
        }
    }
}

/// What the terminal line and the journal need of a processed file beside its entry.
struct Done {
    width: u32,
    height: u32,
    frames: u64,
    resumed: u64,
    damaged: u64,
}

impl Done {
    fn of(summary: &FileSummary) -> Self {
        Self {
            width: summary.width,
            height: summary.height,
            frames: summary.frames,
            resumed: summary.resumed,
            damaged: summary.damaged,
        }
    }
}

/// A processed job: recorded in the journal with its report entry (then its checkpoints
/// are no longer needed), said on the terminal, and reported.
fn finished(
    job: &Job,
    stamp: InputStamp,
    (report, done): (ItemReport, Done),
    checkpoints: Option<&CheckpointSpec>,
    context: &BatchContext<'_>,
) -> ItemReport {
    let Done {
        width,
        height,
        frames,
        resumed,
        damaged,
    } = done;
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
    let recorded = {
        let mut journal = context
            .journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let recorded = journal.record(&report.key, finished, &result_record(&report, context));
        if recorded.is_ok() {
            keep_crops(&mut journal, &report, job);
        }
        recorded
    };
    if let Err(error) = recorded {
        // The output is complete; only the next run's skip is lost.
        tracing::warn!("{}: {error}", job.input.display());
    } else if let Some(spec) = checkpoints {
        // Only once the journal has the item: a crash before that redoes it, and the
        // segments make that quick.
        remove_checkpoints(job, spec);
    }
    let resumed = if resumed > 0 {
        format!(", {resumed} from checkpoints")
    } else {
        String::new()
    };
    context.progress.line(
        &format!(
            "done {} → {} ({width}x{height}, {frames} frame(s){resumed}, {:.1} s, {:.2} fps)",
            job.input.display(),
            job.output.display(),
            report.seconds,
            report.fps
        ),
        false,
    );
    report
}

/// A job that failed or was interrupted while processing.
fn not_finished(
    job: &Job,
    error: &ProcessError,
    seconds: f64,
    context: &BatchContext<'_>,
) -> ItemReport {
    let (status, error) = match error {
        ProcessError::Interrupted => (ItemStatus::Interrupted, vec!["interrupted".to_string()]),
        error => (ItemStatus::Failed, causes(error)),
    };
    context.progress.line(
        &format!("{}: {}", job.input.display(), error.join(": ")),
        true,
    );
    let report = ItemReport {
        status,
        error,
        seconds,
        ..ItemReport::failed(&job.input)
    };
    let report = stamped(report, job, context);
    record_failure(&report, job, context);
    report
}
