//! Whether a discovered job runs: the journal says whether it is finished with the same
//! input and pipeline, or was begun by a run that never finished it; an output that the
//! journal does not know falls to the pipeline's `output.existing` policy; `--force` runs
//! everything.
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
    let key = journal_key(job);
    let record = journal.finished(&key);
    if is_up_to_date(record, stamp, fingerprints.clean)
        || is_up_to_date(record, stamp, fingerprints.damaged)
    {
        return Decision::Skip("finished in an earlier run".into());
    }
    if record.is_some() {
        // Ours, but the input or the pipeline changed since: redo it.
        return Decision::Run;
    }
    if journal.was_begun(&key) {
        // Begun by a run that never finished it: whatever is at the output's name is
        // that run's, not the user's.
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::batch::journal::{journal_name, Finished, ResultRecord};
    use crate::config::MediaKind;

    #[test]
    fn an_output_left_by_a_run_that_never_finished_is_redone_even_with_existing_fail() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("a.png");
        std::fs::write(&output, b"png").unwrap();
        let job = Job {
            input: PathBuf::from("in/a.png"),
            relative: PathBuf::from("a.png"),
            output: output.clone(),
            kind: MediaKind::Image,
        };
        let stamp = InputStamp {
            size: 3,
            mtime_ns: 7,
        };
        let fingerprints = Fingerprints {
            clean: "h",
            damaged: "h+d",
        };
        let decide_now =
            |journal: &Journal| decide(&job, stamp, journal, fingerprints, Existing::Fail, false);
        let mut journal = Journal::open(dir.path(), &journal_name(None)).unwrap();
        // A user's file at the output's name is refused.
        assert!(matches!(decide_now(&journal), Decision::Fail(_)));
        // Begun by a run that was killed after the rename: ours, redo it, also after
        // reopening the journal as the next run does.
        journal.begin("a.png").unwrap();
        drop(journal);
        let mut journal = Journal::open(dir.path(), &journal_name(None)).unwrap();
        assert_eq!(decide_now(&journal), Decision::Run);
        journal
            .record(
                "a.png",
                Finished {
                    stamp,
                    pipeline_hash: "h".into(),
                    outputs: vec![output],
                },
                &ResultRecord {
                    run: "r".into(),
                    recorded_ms: 0,
                    entry: "{}".into(),
                    captions: Vec::new(),
                },
            )
            .unwrap();
        drop(journal);
        let journal = Journal::open(dir.path(), &journal_name(None)).unwrap();
        assert!(!journal.was_begun("a.png"));
        assert!(matches!(decide_now(&journal), Decision::Skip(_)));
    }
}
