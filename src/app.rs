//! The three phases of a run: load (pipeline and models, all problems at once), discover
//! (the files to process, this shard's share), and run (files in parallel, each failure
//! its own), then the report and the exit code.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::batch::decide::{journal_key, Fingerprints};
use crate::batch::fingerprint::{damaged_fingerprint, pipeline_fingerprint};
use crate::batch::journal::{journal_name, Journal, STATE_DIR};
use crate::batch::lock::{LockError, OutputLock};
use crate::batch::scheduler::{run_jobs, BatchContext, Checkpointing};
use crate::cancel::Cancel;
use crate::cli::{InspectArgs, RunArgs, ValidateArgs};
use crate::config::{self, LoadedPipeline};
use crate::discover::discover;
use crate::job::Job;
use crate::media::encode::{check_encoder, EncodeSettings};
use crate::model::session::SessionConfig;
use crate::process::caption_files::caption_json_path;
use crate::process::checkpoints::prune as prune_checkpoints;
use crate::process::settings::copy_policy;
use crate::process::ProcessSettings;
use crate::progress::Progress;
use crate::report::{done_verb, report_stem, write_reports, ItemReport, ItemStatus, RunReport};
use crate::stage::caption::caption_pool;
use crate::stage::{StagePlan, StagePool};

/// Process exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const SOME_FAILED: u8 = 1;
    pub const CONFIG: u8 = 2;
    pub const LOCKED: u8 = 75;
    pub const INTERRUPTED: u8 = 130;
}

/// `frameforge validate`: load and check everything, decode nothing.
pub fn validate(args: &ValidateArgs) -> u8 {
    match load(&args.pipeline) {
        Ok((loaded, plan)) => {
            println!(
                "{}: ok ({} stage(s), scale ×{}, device {})",
                loaded.file.display(),
                loaded.pipeline.stages.len(),
                plan.scale(),
                plan.device()
                    .map_or_else(|| "none".to_string(), |d| d.to_string())
            );
            exit::OK
        }
        Err(stop) => {
            eprintln!("{}", stop.message);
            stop.code
        }
    }
}

/// `frameforge inspect`: what a model is and whether it runs here.
pub fn inspect(args: &InspectArgs) -> u8 {
    let session = SessionConfig {
        device: args.device,
        intra_threads: 1,
    };
    crate::inspect::inspect(args, session)
}

/// A run that ends before processing anything: its exit code and why.
struct Stop {
    code: u8,
    message: String,
}

impl Stop {
    /// Says why on stderr (and as the `--json` summary), and gives the exit code.
    fn report(self, json: bool) -> u8 {
        eprintln!("{}", self.message);
        if json {
            let summary = serde_json::json!({
                "exit_code": self.code,
                "done": 0,
                "skipped": 0,
                "failed": 0,
                "interrupted": self.code == exit::INTERRUPTED,
                "error": self.message,
            });
            println!("{summary}");
        }
        self.code
    }
}

/// `frameforge run`: restore every input file.
pub fn run(args: &RunArgs) -> u8 {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cancel = Cancel::install().unwrap_or_else(|error| {
        tracing::warn!("signals cannot be handled ({error}); Ctrl-C will stop at once");
        Cancel::default()
    });
    let (loaded, plan) = match load(&args.pipeline) {
        Ok(ok) => ok,
        Err(stop) => return stop.report(args.json),
    };
    let pipeline = &loaded.pipeline;
    let threads = args
        .threads
        .or(pipeline.run.threads)
        .map_or_else(available_threads, |t| t as usize);
    let parallel = args
        .jobs
        .or(pipeline.run.jobs)
        .map_or(threads, |j| j as usize);
    let shard = args.shard.map(|s| (s.index, s.count));
    let output_root = &pipeline.output.path;
    let lock = match OutputLock::acquire(output_root, shard, false, &cancel) {
        Err(LockError::Busy { dir, holder }) if args.wait => {
            // Say why nothing happens; Ctrl-C stops the wait.
            if !args.quiet {
                eprintln!(
                    "output directory {dir} is in use by another run ({holder}); waiting for it"
                );
            }
            OutputLock::acquire(output_root, shard, true, &cancel)
        }
        other => other,
    };
    let stop = |code: u8, message: String| Stop { code, message }.report(args.json);
    let _lock = match lock {
        Ok(lock) => lock,
        Err(error @ LockError::Busy { .. }) => return stop(exit::LOCKED, error.to_string()),
        // Nothing was done, and the output directory is another run's: no report.
        Err(error @ LockError::Interrupted { .. }) => {
            return stop(exit::INTERRUPTED, error.to_string())
        }
        Err(error) => return stop(exit::SOME_FAILED, error.to_string()),
    };
    let journal = match Journal::open(output_root, &journal_name(shard)) {
        Ok(journal) => Mutex::new(journal),
        Err(error) => return stop(exit::SOME_FAILED, error.to_string()),
    };
    let fingerprint = match pipeline_fingerprint(pipeline) {
        Ok(f) => f,
        Err(error) => {
            return stop(
                exit::CONFIG,
                format!(
                    "{}: cannot read a model to fingerprint the pipeline: {error}",
                    loaded.file.display()
                ),
            )
        }
    };
    let damaged_fingerprint = damaged_fingerprint(&fingerprint.hex, pipeline.input.on_decode_error);
    let discovery = match discover(pipeline) {
        Ok(d) => d,
        Err(error) => {
            return stop(
                exit::SOME_FAILED,
                format!("{}: {error}", pipeline.input.path.display()),
            );
        }
    };
    let jobs: Vec<Job> = discovery
        .jobs
        .into_iter()
        .filter(|job| args.shard.is_none_or(|s| s.owns(&job.relative)))
        .map(|job| captions_only_output(job, &plan))
        .collect();
    let progress = Progress::new(jobs.len() as u64, args.quiet);
    let mut items: Vec<ItemReport> = discovery
        .rejected
        .iter()
        // Owned by the same key as jobs (the path below the input root), so a shard's
        // share does not depend on where the input tree is mounted.
        .filter(|(path, _)| {
            args.shard
                .is_none_or(|s| s.owns(path.strip_prefix(&pipeline.input.path).unwrap_or(path)))
        })
        .map(|(path, reason)| {
            progress.line(&format!("{}: {reason}", path.display()), true);
            rejected_item(path, reason)
        })
        .collect();
    let device = plan
        .device()
        .map_or_else(|| "none".to_string(), |d| d.to_string());
    let sessions = plan
        .device()
        .map_or(threads, |d| d.sessions(threads, pipeline.run.gpu_sessions));
    let pool = StagePool::new(plan, sessions);
    let encode = encode_settings(&loaded, threads);
    let captions = pool
        .plan()
        .caption()
        .map(|setup| caption_pool(setup, sessions));
    let context = BatchContext {
        process: ProcessSettings {
            pool: &pool,
            captions: captions.as_ref(),
            encode: &encode,
            copy: copy_policy(pipeline.encode.audio, pipeline.encode.subtitles),
            damage: pipeline.input.on_decode_error.into(),
            cancel: &cancel,
        },
        container: pipeline.encode.container,
        existing: pipeline.output.existing,
        force: args.force,
        fingerprints: Fingerprints {
            clean: &fingerprint.hex,
            damaged: &damaged_fingerprint,
        },
        journal: &journal,
        progress: &progress,
        device,
        dry_run: args.dry_run,
        checkpoints: pipeline
            .run
            .checkpoint_seconds()
            .ok()
            .flatten()
            .map(|every| Checkpointing {
                state_dir: output_root.join(STATE_DIR),
                every,
            }),
    };
    items.extend(run_jobs(&jobs, parallel, &context));
    if args.shard.is_none() && !args.dry_run && !cancel.is_set() {
        // Only a whole run sees every item; a shard would drop the others' checkpoints.
        let keys: Vec<String> = jobs.iter().map(journal_key).collect();
        if let Err(error) = prune_checkpoints(&output_root.join(STATE_DIR), &keys) {
            tracing::warn!(
                "{}: cannot remove old checkpoints: {error}",
                output_root.display()
            );
        }
    }
    if pool.plan().caption().is_some() && !args.dry_run {
        let documents: Vec<std::path::PathBuf> = jobs
            .iter()
            .map(|job| caption_json_path(&job.output))
            .collect();
        if let Err(error) = crate::caption::index::write_index(&pipeline.output.path, &documents) {
            eprintln!(
                "{}: cannot write captions.jsonl: {error}",
                pipeline.output.path.display()
            );
        }
    }
    progress.clear();
    for item in items.iter_mut().filter(|i| i.status == ItemStatus::Done) {
        item.models.clone_from(&fingerprint.models);
    }
    finish(args, &loaded, items, &cancel, started, started_unix)
}

/// Prints the summary, writes the report and chooses the exit code.
fn finish(
    args: &RunArgs,
    loaded: &LoadedPipeline,
    items: Vec<ItemReport>,
    cancel: &Cancel,
    started: Instant,
    started_unix: u64,
) -> u8 {
    let count = |status| items.iter().filter(|i| i.status == status).count();
    let (done, skipped, failed) = (
        count(ItemStatus::Done),
        count(ItemStatus::Skipped),
        count(ItemStatus::Failed),
    );
    let warned = items.iter().filter(|i| !i.warnings.is_empty()).count();
    let interrupted = cancel.is_set();
    let exit_code = if interrupted {
        exit::INTERRUPTED
    } else if failed > 0 {
        exit::SOME_FAILED
    } else {
        exit::OK
    };
    let seconds = started.elapsed().as_secs_f64();
    let stem = report_stem(args.shard.map(|s| (s.index, s.count)));
    let report = RunReport {
        pipeline: loaded.file.clone(),
        name: loaded.pipeline.name.clone(),
        version: env!("CARGO_PKG_VERSION"),
        started_unix,
        seconds,
        exit_code,
        done_verb: done_verb(&loaded.pipeline.stages),
        done,
        skipped,
        failed,
        warned,
        interrupted,
        items,
    };
    if !args.dry_run {
        if let Err(error) = write_reports(&report, &loaded.pipeline.output.path, &stem) {
            eprintln!("{error}");
        }
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

/// A pipeline that only captions writes no media: its main output is the caption JSON.
fn captions_only_output(mut job: Job, plan: &StagePlan) -> Job {
    if !plan.writes_media() && plan.caption().is_some() {
        job.output = caption_json_path(&job.output);
    }
    job
}

/// `; 2 with warnings (see the report)` when items have warnings, so a cron mail says so.
fn warned_note(warned: usize) -> String {
    if warned == 0 {
        String::new()
    } else {
        format!("; {warned} with warnings (see the report)")
    }
}

fn rejected_item(path: &Path, reason: &str) -> ItemReport {
    ItemReport {
        error: vec![reason.to_string()],
        ..ItemReport::failed(path)
    }
}

fn encode_settings(loaded: &LoadedPipeline, threads: usize) -> EncodeSettings {
    let encode = &loaded.pipeline.encode;
    EncodeSettings {
        codec: encode.codec.clone(),
        crf: encode.crf,
        preset: encode.preset.clone(),
        pixel_format: encode.pixel_format.clone(),
        // Encoders take what they need; inference is what the thread budget bounds.
        threads: 0,
        // Except for large frames, where each encoder thread costs memory.
        large_frame_threads: threads,
    }
}

/// Loads the pipeline and checks its models; prints every problem and returns exit 2.
fn load(path: &Path) -> Result<(LoadedPipeline, StagePlan), Stop> {
    let loaded = config::load(path).map_err(|problems| Stop {
        code: exit::CONFIG,
        message: problems.to_string(),
    })?;
    let session = SessionConfig {
        device: loaded.pipeline.device,
        // Parallelism comes from many single-threaded sessions (see BENCHMARKS.md).
        intra_threads: 1,
    };
    let mut problems = encoder_problems(&loaded);
    match StagePlan::check(&loaded, session) {
        Ok(plan) if problems.is_empty() => Ok((loaded, plan)),
        result => {
            problems.extend(result.err().into_iter().flatten());
            problems.sort();
            Err(Stop {
                code: exit::CONFIG,
                message: problems.to_string(),
            })
        }
    }
}

/// An encoder or pixel format this ffmpeg lacks, as a pipeline problem at its line
/// (rather than the same failure for every file of the batch). Caption-only pipelines
/// encode nothing, so their `encode` section is not held against them.
fn encoder_problems(loaded: &LoadedPipeline) -> config::Problems {
    let mut problems = config::Problems::new();
    let encodes = loaded
        .pipeline
        .stages
        .iter()
        .any(|stage| !matches!(stage, config::StageSpec::Caption(_)));
    if encodes {
        if let Err((field, message)) = check_encoder(&encode_settings(loaded, 0)) {
            problems.push(loaded.problem(&format!("encode.{field}"), message));
        }
    }
    problems
}

fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
