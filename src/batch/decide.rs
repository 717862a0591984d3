//! Whether a discovered job runs: the journal says whether it is finished with the same
//! input and pipeline; an output that the journal does not know falls to the pipeline's
//! `output.existing` policy; `--force` runs everything.
//!
//! An item with undecodable frames is recorded with the damaged fingerprint (the pipeline's
//! and the `on_decode_error` policy), so either fingerprint means "up to date".

use crate::config::Existing;
use crate::job::Job;

use super::journal::{is_up_to_date, InputStamp, Journal};

/// What to do with a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Run,
    Skip(String),
    Fail(String),
}

/// The pipeline fingerprints a finished item may carry.
#[derive(Debug, Clone, Copy)]
pub struct Fingerprints<'a> {
    /// Of the pipeline: what every clean item is recorded with.
    pub clean: &'a str,
    /// Of the pipeline and the `on_decode_error` policy: for items with damaged frames.
    pub damaged: &'a str,
}

/// Decides for `job`, whose input currently has `stamp`.
pub fn decide(
    job: &Job,
    stamp: InputStamp,
    journal: &Journal,
    fingerprints: Fingerprints<'_>,
    existing: Existing,
    force: bool,
) -> Decision {
    if force {
        return Decision::Run;
    }
    let record = journal.finished(&journal_key(job));
    if is_up_to_date(record, stamp, fingerprints.clean)
        || is_up_to_date(record, stamp, fingerprints.damaged)
    {
        return Decision::Skip("finished in an earlier run".into());
    }
    if record.is_some() {
        // Ours, but the input or the pipeline changed since: redo it.
        return Decision::Run;
    }
    if job.output.exists() {
        return match existing {
            Existing::Skip => Decision::Skip(format!("{} exists", job.output.display())),
            Existing::Fail => Decision::Fail(format!(
                "output {} already exists (existing: fail)",
                job.output.display()
            )),
            Existing::Overwrite => Decision::Run,
        };
    }
    Decision::Run
}

/// The journal key of a job: its path below the input root, with `/` separators.
pub fn journal_key(job: &Job) -> String {
    job.relative.to_string_lossy().replace('\\', "/")
}
