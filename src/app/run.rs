//! `frameforge run`: load (pipeline and models), take the output directory, discover
//! (the files to process, this shard's share), run (files in parallel, each failure its
//! own), tidy the state directory, then the report and the exit code.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::batch::decide::{journal_key, Fingerprints};
use crate::batch::fingerprint::{damaged_fingerprint, pipeline_fingerprint, PipelineFingerprint};
use crate::batch::journal::{forget_captions_except, journal_name, Journal, STATE_DIR};
use crate::batch::lock::{LockError, OutputLock};
use crate::batch::scheduler::{run_jobs, BatchContext, Checkpointing};
use crate::cancel::Cancel;
use crate::cli::RunArgs;
use crate::config::{LoadedPipeline, MediaKind, Pipeline};
use crate::discover::{discover, Discovery};
use crate::job::Job;
use crate::metadata::Provenance;
use crate::process::caption_files::caption_json_path;
use crate::process::checkpoints::prune as prune_checkpoints;
use crate::process::settings::{copy_policy, XmpSettings};
use crate::process::ProcessSettings;
use crate::progress::Progress;
use crate::report::run_id::{run_id, unix_seconds, utc_timestamp};
use crate::report::{ItemReport, RunCounts};
use crate::stage::caption::{caption_pool, CaptionPool};
use crate::stage::{StagePlan, StagePool};

use super::finish::{finish, RunStart};
use super::history::{input_root, report_items, Share};
use super::{available_threads, encode_settings, exit, inference_sessions, load, Stop};

/// Restores every input file; returns the exit code.
pub fn run(args: &RunArgs) -> u8 {
    let started_at = SystemTime::now();
    let start = RunStart {
        instant: Instant::now(),
        unix: started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        run: run_id(started_at, std::process::id()),
    };
    let cancel = Cancel::install().unwrap_or_else(|error| {
        tracing::warn!("signals cannot be handled ({error}); Ctrl-C will stop at once");
        Cancel::default()
    });
    let items = load(&args.pipeline, args.threads).and_then(|(loaded, plan)| {
        let items = run_batch(args, &loaded, plan, &cancel, &start.run)?;
        Ok((loaded, items))
    });
    match items {
        Ok((loaded, (counts, items))) => finish(args, &loaded, (counts, items), &cancel, &start),
        Err(stop) => stop.report(args.json),
    }
}

/// How much runs at once.
struct Budget {
    /// Inference threads.
    threads: usize,
    /// Files at once.
    parallel: usize,
}

impl Budget {
    fn of(args: &RunArgs, pipeline: &Pipeline, plan: &StagePlan) -> Self {
        let threads = args
            .threads
            .or(pipeline.run.threads)
            .map_or_else(available_threads, |t| t as usize);
        let parallel = args
            .jobs
            .or(pipeline.run.jobs)
            .map_or_else(|| default_jobs(threads, plan), |j| j as usize);
        Self { threads, parallel }
    }
}

/// Files at once when neither the command line nor the file says: one per thread, or,
/// when the pipeline only captions, enough to fill the captioner's batch: such a file
/// costs little while it waits, and stills waiting together are captioned together
/// (2× `generate()` against 1.0× one still at a time, BENCHMARKS.md).
fn default_jobs(threads: usize, plan: &StagePlan) -> usize {
    match plan.caption() {
        Some(caption) if !plan.has_frame_stages() => threads.max(caption.batch),
        _ => threads,
    }
}

/// Everything after loading: what this run did and the report's items (this run's and
/// the earlier results of its share), or why the run stopped before processing anything.
fn run_batch(
    args: &RunArgs,
    loaded: &LoadedPipeline,
    plan: StagePlan,
    cancel: &Cancel,
    run: &str,
) -> Result<(RunCounts, Vec<ItemReport>), Stop> {
    let pipeline = &loaded.pipeline;
    let budget = Budget::of(args, pipeline, &plan);
    let output_root = &pipeline.output.path;
    // A dry run changes nothing in the output directory, not even to lock it.
    let _lock = if args.dry_run {
        None
    } else {
        Some(lock_output(args, output_root, cancel)?)
    };
    let journal = open_journal(args, output_root)?;
    let fingerprint = fingerprint(loaded)?;
    let damaged = damaged_fingerprint(&fingerprint.hex, pipeline.input.on_decode_error);
    let Discovery { jobs, rejected } = this_shards_share(args, pipeline, &plan)?;
    let weights: Vec<u64> = jobs
        .iter()
        .map(|job| std::fs::metadata(&job.input).map_or(0, |m| m.len()))
        .collect();
    let progress = Progress::new(&weights, args.quiet);
    let input_root = input_root(&pipeline.input.path);
    let mut items = rejected_items(&rejected, (&input_root, run), &progress);
    let provenance = provenance(&fingerprint, &plan);
    let stills = jobs.iter().any(|job| job.kind == MediaKind::Image);
    let workers = Workers::new(plan, pipeline, budget.threads, stills);
    let encode = encode_settings(&pipeline.encode, budget.threads);
    let context = BatchContext {
        process: ProcessSettings {
            pool: &workers.pool,
            captions: workers.captions.as_ref(),
            encode: &encode,
            codec_named: loaded.locate("encode.codec").is_some(),
            copy: copy_policy(pipeline.encode.audio, pipeline.encode.subtitles),
            damage: pipeline.input.on_decode_error,
            decoder: pipeline.input.decoder,
            cancel,
            xmp: XmpSettings {
                place: pipeline.output.xmp,
                provenance: &provenance,
            },
        },
        container: pipeline.encode.container,
        existing: pipeline.output.existing,
        force: args.force,
        fingerprints: Fingerprints {
            clean: &fingerprint.hex,
            damaged: &damaged,
        },
        journal: &journal,
        progress: &progress,
        device: workers.device,
        dry_run: args.dry_run,
        checkpoints: checkpointing(pipeline),
        models: &fingerprint.models,
        run,
        output_root,
    };
    items.extend(run_jobs(&jobs, budget.parallel, &context));
    tidy_up(args, pipeline, &jobs, workers.pool.plan(), cancel);
    progress.clear();
    let counts = RunCounts::of(&items);
    if args.dry_run {
        return Ok((counts, items));
    }
    let share = Share {
        found: jobs
            .iter()
            .map(journal_key)
            .chain(items.iter().map(|i| i.key.clone()))
            .collect::<HashSet<String>>(),
        input_root: &input_root,
        output_root,
        shard: args.shard,
    };
    Ok((counts, report_items(&journal, items, &share)))
}

/// What this run does to make its outputs, for their XMP history.
fn provenance(fingerprint: &PipelineFingerprint, plan: &StagePlan) -> Provenance {
    Provenance {
        software: format!("FrameForge {}", env!("CARGO_PKG_VERSION")),
        models: fingerprint
            .models
            .iter()
            .map(|m| (m.file.clone(), m.sha256.clone()))
            .collect(),
        scale: plan.scale(),
        captioner: plan.caption().map(|c| c.model.clone()),
    }
}

fn stop(code: u8, message: String) -> Stop {
    Stop { code, message }
}

/// Takes the output directory for this run (or shard), waiting for another run to
/// finish with it when asked to.
fn lock_output(args: &RunArgs, output_root: &Path, cancel: &Cancel) -> Result<OutputLock, Stop> {
    let shard = args.shard.map(|s| (s.index, s.count));
    let lock = match OutputLock::acquire(output_root, shard, false, cancel) {
        Err(LockError::Busy { dir, holder }) if args.wait => {
            // Say why nothing happens; Ctrl-C stops the wait.
            if !args.quiet {
                eprintln!(
                    "output directory {dir} is in use by another run ({holder}); waiting for it"
                );
            }
            OutputLock::acquire(output_root, shard, true, cancel)
        }
        other => other,
    };
    lock.map_err(|error| match error {
        LockError::Busy { .. } => stop(exit::LOCKED, error.to_string()),
        // Nothing was done, and the output directory is another run's: no report.
        LockError::Interrupted { .. } => stop(exit::INTERRUPTED, error.to_string()),
        _ => stop(exit::SOME_FAILED, error.to_string()),
    })
}

/// This run's journal, with every earlier run's records; read-only for a dry run.
fn open_journal(args: &RunArgs, output_root: &Path) -> Result<Mutex<Journal>, Stop> {
    let name = journal_name(args.shard.map(|s| (s.index, s.count)));
    let journal = if args.dry_run {
        Journal::open_read_only(output_root, &name)
    } else {
        Journal::open(output_root, &name)
    };
    journal
        .map(Mutex::new)
        .map_err(|error| stop(exit::SOME_FAILED, error.to_string()))
}

/// The pipeline's fingerprint, which reads every model.
fn fingerprint(loaded: &LoadedPipeline) -> Result<PipelineFingerprint, Stop> {
    pipeline_fingerprint(&loaded.pipeline).map_err(|error| {
        stop(
            exit::CONFIG,
            format!(
                "{}: cannot read a model to fingerprint the pipeline: {error}",
                loaded.file.display()
            ),
        )
    })
}

/// The jobs and the rejected files (with why) of this run's shard.
fn this_shards_share(
    args: &RunArgs,
    pipeline: &Pipeline,
    plan: &StagePlan,
) -> Result<Discovery, Stop> {
    let discovery = discover(pipeline).map_err(|error| {
        stop(
            exit::SOME_FAILED,
            format!("{}: {error}", pipeline.input.path.display()),
        )
    })?;
    let jobs = discovery
        .jobs
        .into_iter()
        .filter(|job| args.shard.is_none_or(|s| s.owns(&job.relative)))
        .map(|job| captions_only_output(job, plan))
        .collect();
    let rejected = discovery
        .rejected
        .into_iter()
        // Owned by the same key as jobs (the path below the input root), so a shard's
        // share does not depend on where the input tree is mounted.
        .filter(|(path, _)| {
            args.shard
                .is_none_or(|s| s.owns(path.strip_prefix(&pipeline.input.path).unwrap_or(path)))
        })
        .collect();
    Ok(Discovery { jobs, rejected })
}

/// A pipeline that only captions writes no media: its main output is the caption JSON.
fn captions_only_output(mut job: Job, plan: &StagePlan) -> Job {
    if !plan.writes_media() && plan.caption().is_some() {
        job.output = caption_json_path(&job.output);
    }
    job
}

/// Says each rejected file and gives its failed report entry, this run's (`run`); keys
/// are relative to `input_root`.
fn rejected_items(
    rejected: &[(PathBuf, String)],
    (input_root, run): (&Path, &str),
    progress: &Progress,
) -> Vec<ItemReport> {
    let at = utc_timestamp(unix_seconds(SystemTime::now()));
    rejected
        .iter()
        .map(|(path, reason)| {
            progress.line(&format!("{}: {reason}", path.display()), true);
            let key = path.strip_prefix(input_root).unwrap_or(path);
            ItemReport {
                key: key.to_string_lossy().replace('\\', "/"),
                error: vec![reason.to_string()],
                run: run.to_string(),
                at: at.clone(),
                ..ItemReport::failed(path)
            }
        })
        .collect()
}

/// The model instances of the run: restoration and captioning, as many as the device
/// and the thread budget allow.
struct Workers {
    pool: StagePool,
    captions: Option<CaptionPool>,
    /// Where inference runs, as the report says it.
    device: String,
}

impl Workers {
    /// `stills`: the batch has stills, whose captioner is the one loaded at load time.
    fn new(plan: StagePlan, pipeline: &Pipeline, threads: usize, stills: bool) -> Self {
        let device = plan
            .device()
            .map_or_else(|| "none".to_string(), |d| d.to_string());
        let sessions = inference_sessions(&plan, pipeline, threads);
        let pool = StagePool::new(plan, sessions);
        let captions = pool
            .plan()
            .caption()
            .map(|setup| caption_pool(setup, sessions, stills));
        Self {
            pool,
            captions,
            device,
        }
    }
}

/// Where and how often long videos keep checkpoints, when the pipeline asks.
fn checkpointing(pipeline: &Pipeline) -> Option<Checkpointing> {
    pipeline
        .run
        .checkpoint_seconds()
        .ok()
        .flatten()
        .map(|every| Checkpointing {
            state_dir: pipeline.output.path.join(STATE_DIR),
            every,
        })
}

/// After the batch: drops the checkpoints of items no longer in the input, and writes
/// the caption index of a captioning run.
fn tidy_up(args: &RunArgs, pipeline: &Pipeline, jobs: &[Job], plan: &StagePlan, cancel: &Cancel) {
    let output_root = &pipeline.output.path;
    if args.shard.is_none() && !args.dry_run && !cancel.is_set() {
        // Only a whole run sees every item; a shard would drop the others' checkpoints.
        let keys: Vec<String> = jobs.iter().map(journal_key).collect();
        if let Err(error) = prune_checkpoints(&output_root.join(STATE_DIR), &keys) {
            tracing::warn!(
                "{}: cannot remove old checkpoints: {error}",
                output_root.display()
            );
        }
        // The same for the search index: captions of inputs gone are not found again.
        if let Err(error) = forget_captions_except(output_root, &keys) {
            tracing::warn!(
                "{}: cannot drop captions of inputs gone: {error}",
                output_root.display()
            );
        }
    }
    if plan.caption().is_some() && !args.dry_run {
        let documents: Vec<PathBuf> = jobs
            .iter()
            .map(|job| caption_json_path(&job.output))
            .collect();
        if let Err(error) = crate::caption::index::write_index(output_root, &documents) {
            eprintln!(
                "{}: cannot write captions.jsonl: {error}",
                output_root.display()
            );
        }
    }
}
