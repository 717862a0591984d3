//! The commands: `validate` and `inspect` here, `run` in `app/run.rs` (its summary,
//! report and exit code in `app/finish.rs`). Every command starts by loading the
//! pipeline and its models, with all problems at once.

mod finish;
mod run;

pub use run::run;

use std::path::Path;

use crate::cli::{InspectArgs, ValidateArgs};
use crate::config::{self, LoadedPipeline};
use crate::media::encode::{check_encoder, EncodeSettings};
use crate::model::session::SessionConfig;
use crate::stage::StagePlan;

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
        Ok(plan) if problems.is_empty() => {
            if let Some(warning) = plan.caption().and_then(|c| c.warning.as_ref()) {
                tracing::warn!("{warning}");
            }
            Ok((loaded, plan))
        }
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

/// The encoder settings of the pipeline, for a run with `threads` threads.
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
