//! One item of a batch from start to record: clear a killed run's temporary, ask the
//! journal whether it runs, process it (resuming from checkpoints), then record it in
//! the journal, say so on the terminal and give its report entry.

use std::sync::PoisonError;
use std::time::Instant;

use crate::config::MediaKind;
use crate::file_progress::FileProgress;
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
use super::journal::{Finished, InputStamp};
use super::scheduler::BatchContext;

/// Runs one job to its report entry; a failure is the item's own.
pub(super) fn run_one(job: &Job, context: &BatchContext<'_>) -> ItemReport {
    if !context.dry_run {
        remove_stale_temporary(job);
    }
    let stamp = match InputStamp::of(&job.input) {
        Ok(stamp) => stamp,
        // The file vanished or became unreadable since discovery.
        Err(error) => return failed(job, format!("cannot read input: {error}"), context),
    };
    match decide_and_begin(job, stamp, context) {
        Decision::Skip(reason) => return skipped(job, reason, context),
        Decision::Fail(reason) => return failed(job, reason, context),
        Decision::Run if context.dry_run => return would_process(job, context),
        Decision::Run => {}
    }
    let checkpoints = checkpoint_spec(job, stamp, context);
    let bar = context
        .progress
        .start_file(&job.relative.display().to_string());
    let started = Instant::now();
    let result = process(job, context, checkpoints.as_ref(), &bar);
    context.progress.finish_file(bar);
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(summary) => finished(job, stamp, summary, seconds, checkpoints.as_ref(), context),
        Err(error) => not_finished(job, &error, seconds, context),
    }
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
    ItemReport {
        status: ItemStatus::Skipped,
        outputs: vec![job.output.clone()],
        reason: Some(reason),
        ..ItemReport::failed(&job.input)
    }
}

/// A job that failed before processing began.
fn failed(job: &Job, reason: String, context: &BatchContext<'_>) -> ItemReport {
    context
        .progress
        .line(&format!("{}: {reason}", job.input.display()), true);
    ItemReport {
        error: vec![reason],
        ..ItemReport::failed(&job.input)
    }
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
    ItemReport {
        status: ItemStatus::WouldProcess,
        outputs: vec![job.output.clone()],
        ..ItemReport::failed(&job.input)
    }
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
            bar.length(1);
            let summary = restore_image(&job.input, &job.output, settings.pool, settings.captions)?;
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

/// A processed job: recorded in the journal (then its checkpoints are no longer needed),
/// said on the terminal, and reported.
fn finished(
    job: &Job,
    stamp: InputStamp,
    summary: FileSummary,
    seconds: f64,
    checkpoints: Option<&CheckpointSpec>,
    context: &BatchContext<'_>,
) -> ItemReport {
    let (width, height, frames, resumed) = (
        summary.width,
        summary.height,
        summary.frames,
        summary.resumed,
    );
    let fingerprint = if summary.damaged > 0 {
        context.fingerprints.damaged
    } else {
        context.fingerprints.clean
    };
    let report = ItemReport::done(&job.input, summary, seconds, context.device.clone());
    let finished = Finished {
        stamp,
        pipeline_hash: fingerprint.to_string(),
        outputs: report.outputs.clone(),
    };
    let recorded = context
        .journal
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .record(&journal_key(job), finished);
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
    ItemReport {
        status,
        error,
        seconds,
        ..ItemReport::failed(&job.input)
    }
}
