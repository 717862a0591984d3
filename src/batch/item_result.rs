//! An item's report entry as this run's own (its key, the run id, when) and as the
//! journal keeps it for later reports: finished items with their `finished` record,
//! failed and interrupted ones on their own. Skips and dry runs record nothing, so the
//! last real result stands.

use std::sync::atomic::AtomicUsize;
use std::sync::PoisonError;
use std::time::SystemTime;

use crate::job::Job;
use crate::report::run_id::{unix_seconds, utc_timestamp};
use crate::report::stored::{preview_parts, to_stored};
use crate::report::thumbnail::take_thumbnail_place;
use crate::report::ItemReport;

use super::decide::journal_key;
use super::journal::IndexedCaption;
use super::journal::{Journal, PreviewBlobs, ResultRecord};
use super::scheduler::BatchContext;

/// `report` as this run's entry for `job`, made now.
pub(super) fn stamped(mut report: ItemReport, job: &Job, context: &BatchContext<'_>) -> ItemReport {
    report.key = journal_key(job);
    report.run = context.run.to_string();
    report.at = utc_timestamp(unix_seconds(SystemTime::now()));
    report
}

/// Keeps the entry's crops only while the run has places for them (see
/// `REPORT_THUMBNAILS`), before the journal stores them.
pub(super) fn within_places(mut report: ItemReport, places: &AtomicUsize) -> ItemReport {
    if report.preview.is_some() && !take_thumbnail_place(places) {
        report.preview = None;
    }
    report
}

/// What the journal keeps of `report`.
pub(super) fn result_record(report: &ItemReport, context: &BatchContext<'_>) -> ResultRecord {
    let recorded_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    ResultRecord {
        run: report.run.clone(),
        recorded_ms,
        entry: to_stored(report, context.output_root),
        captions: report
            .captions
            .iter()
            .map(|c| IndexedCaption {
                start: c.start,
                end: c.end,
                text: c.text.clone(),
            })
            .collect(),
    }
}

/// Keeps a finished item's crops for later reports, once its result is recorded.
pub(super) fn keep_crops(journal: &mut Journal, report: &ItemReport, job: &Job) {
    let Some(preview) = &report.preview else {
        return;
    };
    let (before, after, crop) = preview_parts(preview);
    let blobs = PreviewBlobs {
        before,
        after,
        crop,
    };
    if let Err(error) = journal.record_preview(&report.key, &blobs) {
        // The item is recorded; later reports only show it without its crops.
        tracing::warn!("{}: cannot keep its crops: {error}", job.input.display());
    }
}

/// Records a failed or interrupted item's entry as its last result (not in a dry run,
/// which writes nothing).
pub(super) fn record_failure(report: &ItemReport, job: &Job, context: &BatchContext<'_>) {
    if context.dry_run {
        return;
    }
    let recorded = context
        .journal
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .record_result(&report.key, &result_record(report, context));
    if let Err(error) = recorded {
        // The failure is reported all the same; only later reports lose it.
        tracing::warn!("{}: {error}", job.input.display());
    }
}
