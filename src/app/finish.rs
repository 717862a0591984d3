//! The end of a run: the summary line, the report files and the exit code.

use std::time::Instant;

use crate::cancel::Cancel;
use crate::cli::RunArgs;
use crate::config::LoadedPipeline;
use crate::report::{
    done_verb, report_stem, write_reports, ItemReport, ItemStatus, RunCounts, RunReport, Totals,
};

use super::exit;

/// When and as what a run started.
pub(super) struct RunStart {
    pub instant: Instant,
    pub unix: u64,
    /// The run's id (see `report::run_id`).
    pub run: String,
}

/// Prints the summary, writes the report and chooses the exit code.
pub(super) fn finish(
    args: &RunArgs,
    loaded: &LoadedPipeline,
    (counts, items): (RunCounts, Vec<ItemReport>),
    cancel: &Cancel,
    start: &RunStart,
) -> u8 {
    if args.dry_run {
        return dry_run_summary(args, &items, cancel);
    }
    let RunCounts {
        done,
        skipped,
        failed,
        warned,
    } = counts;
    let interrupted = cancel.is_set();
    let exit_code = if interrupted {
        exit::INTERRUPTED
    } else if failed > 0 {
        exit::SOME_FAILED
    } else {
        exit::OK
    };
    let seconds = start.instant.elapsed().as_secs_f64();
    let stem = report_stem(args.shard.map(|s| (s.index, s.count)));
    let report = RunReport {
        pipeline: loaded.file.clone(),
        name: loaded.pipeline.name.clone(),
        version: env!("CARGO_PKG_VERSION"),
        run: start.run.clone(),
        started_unix: start.unix,
        seconds,
        exit_code,
        done_verb: done_verb(&loaded.pipeline.stages),
        done,
        skipped,
        failed,
        warned,
        interrupted,
        totals: Totals::of(&items),
        items,
    };
    if let Err(error) = write_reports(&report, &loaded.pipeline.output.path, &stem) {
        eprintln!("{error}");
    }
    eprintln!(
        "{done} {}, {skipped} skipped, {failed} failed in {seconds:.1} s{}{}",
        report.done_verb,
        warned_note(warned),
        if interrupted {
            " (interrupted; rerun to resume)"
        } else {
            ""
        }
    );
    if args.json {
        let summary = serde_json::json!({
            "exit_code": exit_code,
            "run": start.run,
            "done": done,
            "skipped": skipped,
            "failed": failed,
            "warned": warned,
            "interrupted": interrupted,
            "seconds": seconds,
            "report": loaded.pipeline.output.path.join(format!("{stem}.json")),
        });
        println!("{summary}");
    }
    exit_code
}

/// A dry run's summary says what a run would do, and its exit code is the one a run
/// would have for what is already known (files it would refuse); it writes no report.
fn dry_run_summary(args: &RunArgs, items: &[ItemReport], cancel: &Cancel) -> u8 {
    let count = |status| items.iter().filter(|i| i.status == status).count();
    let (process, skip, fail) = (
        count(ItemStatus::WouldProcess),
        count(ItemStatus::Skipped),
        count(ItemStatus::Failed),
    );
    let exit_code = if cancel.is_set() {
        exit::INTERRUPTED
    } else if fail > 0 {
        exit::SOME_FAILED
    } else {
        exit::OK
    };
    let failing = if fail > 0 {
        format!(", would fail {fail}")
    } else {
        String::new()
    };
    eprintln!("dry run: would process {process}, would skip {skip}{failing}; nothing was written");
    if args.json {
        let summary = serde_json::json!({
            "exit_code": exit_code,
            "dry_run": true,
            "would_process": process,
            "would_skip": skip,
            "would_fail": fail,
            "interrupted": cancel.is_set(),
        });
        println!("{summary}");
    }
    exit_code
}

/// `; 2 with warnings (see the report)` when items have warnings, so a cron mail says so.
fn warned_note(warned: usize) -> String {
    if warned == 0 {
        String::new()
    } else {
        format!("; {warned} with warnings (see the report)")
    }
}
