//! The commands: `validate` and `inspect` here, `run` in `app/run.rs` (its summary,
//! report and exit code in `app/finish.rs`, the report's items across runs in
//! `app/history.rs`), `speed` in `app/speed.rs`, `search` in `app/search.rs`. Every
//! command starts by loading the pipeline and its models, with all problems at once.

mod finish;
mod history;
mod run;
mod search;
mod speed;

pub use run::run;
pub use search::search;
pub use speed::speed;

use std::path::Path;

use crate::cli::{InspectArgs, ValidateArgs};
use crate::config::{self, Draft, EncodeSpec, LoadedPipeline, Pipeline, VideoDecoder};
use crate::media::encode::{check_encoder, EncodeSettings};
use crate::media::filter_graph::{chain_output_size, fixed_output_size, ChainInput};
use crate::media::frame_size::{size_refusal, typical_source};
use crate::media::hardware_decoder::nvdec_refusal;
use crate::media::hardware_encoder::hardware_refusal;
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
    match load(&args.pipeline, None) {
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
        // A model is inspected as it is.
        precision: crate::config::Precision::Fp32,
        intra_threads: 1,
    };
    crate::inspect::inspect(args, session)
}

/// How many model instances run at once: one single-threaded session per thread on the
/// CPU, the pipeline's `run.gpu_sessions` on a GPU.
fn inference_sessions(plan: &StagePlan, pipeline: &Pipeline, threads: usize) -> usize {
    plan.device()
        .map_or(threads, |d| d.sessions(threads, pipeline.run.gpu_sessions))
}

/// Every core, when neither the command line nor the file says how many threads.
fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
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

/// Loads the pipeline, checks its encoder and its models, and the frame size its filters
/// fix against the encoder; on any problem, every one of them and exit 2. `threads`: the
/// command line's `--threads`, over the file's.
fn load(path: &Path, threads: Option<u32>) -> Result<(LoadedPipeline, StagePlan), Stop> {
    let draft = config::load_draft(path);
    let session = SessionConfig {
        device: draft.device(),
        precision: draft.precision(),
        // Parallelism comes from many single-threaded sessions (see BENCHMARKS.md).
        intra_threads: 1,
    };
    let threads = threads
        .or(draft.threads())
        .map_or_else(available_threads, |t| t as usize);
    let mut later = codec_problems(&draft);
    let plan = match StagePlan::check_for_run(&draft, session, threads) {
        Ok(plan) => Some(plan),
        Err(problems) => {
            later.extend(problems);
            None
        }
    };
    if let (Some(plan), Some(encode), true) = (&plan, draft.encode(), later.is_empty()) {
        later.extend(size_problem(&draft, plan, &encode));
    }
    let config_stop = |problems: config::Problems| Stop {
        code: exit::CONFIG,
        message: problems.to_string(),
    };
    match (draft.finish(later).map_err(config_stop)?, plan) {
        (loaded, Some(plan)) => {
            if let Some(warning) = plan.caption().and_then(|c| c.warning.as_ref()) {
                tracing::warn!("{warning}");
            }
            Ok((loaded, plan))
        }
        // A plan that failed added its problems, so `finish` did not succeed.
        (loaded, None) => Err(Stop {
            code: exit::CONFIG,
            message: format!("{}: the stages could not be checked", loaded.file.display()),
        }),
    }
}

/// An encoder or pixel format this ffmpeg lacks, or a hardware encoder or decoder that
/// cannot start here, as a pipeline problem at its line (rather than the same failure for
/// every file of the batch). Caption-only pipelines encode nothing, so their `encode`
/// section is not held against them.
fn codec_problems(draft: &Draft) -> config::Problems {
    let mut problems = config::Problems::new();
    let encodes = draft
        .stages()
        .any(|(_, stage)| !matches!(stage, config::StageSpec::Caption(_)));
    if let (Some(encode), true) = (draft.encode(), encodes) {
        let settings = encode_settings(&encode, 0);
        if let Err((field, message)) = check_encoder(&settings) {
            problems.push(draft.problem(&format!("encode.{field}"), message));
        } else if let Some(refusal) = hardware_refusal(&settings) {
            problems.push(draft.problem("encode.codec", refusal));
        }
    }
    if draft.decoder() == VideoDecoder::Nvdec {
        if let Some(refusal) = nvdec_refusal() {
            problems.push(draft.problem("input.decoder", refusal));
        }
    }
    problems
}

/// Filters that give every frame one size (`scale=241:135`), before restoration (whose
/// scale then applies) or after it, that the encoder refuses, as a problem at the last
/// filter stage that decides the size: otherwise every file would fail on its first
/// frame. Sizes that follow the input are
/// checked for each file when it is opened.
fn size_problem(draft: &Draft, plan: &StagePlan, encode: &EncodeSpec) -> Option<config::Problem> {
    let scale = plan.scale();
    let (before, after) = (plan.filters_before(), plan.filters_after());
    let fixed_before = before
        .joined()
        .and_then(|chain| fixed_output_size(&chain, ChainInput::Decoded));
    // The chain that last fixes the size, the size it makes, and the size encoded.
    let (key, made, encoded) = match after.joined() {
        Some(chain) => {
            let size = fixed_output_size(&chain, ChainInput::Restored).or_else(|| {
                let (width, height) = fixed_before?;
                chain_output_size(
                    &chain,
                    (width * scale, height * scale),
                    ChainInput::Restored,
                )
            })?;
            (after.last_key()?, size, size)
        }
        None => {
            let (width, height) = fixed_before?;
            (
                before.last_key()?,
                (width, height),
                (width * scale, height * scale),
            )
        }
    };
    let refusal = size_refusal(
        &encode_settings(encode, 0),
        &typical_source(encoded),
        encoded,
    )?;
    let restored = if encoded != made {
        format!(", {}x{} once restored", encoded.0, encoded.1)
    } else {
        String::new()
    };
    let multiple = refusal.multiple;
    Some(draft.problem(
        key,
        format!(
            "this chain makes {}x{} frames{restored}: {refusal} (such as {}x{} from this chain)",
            made.0,
            made.1,
            made.0 / multiple * multiple,
            made.1 / multiple * multiple
        ),
    ))
}

/// The encoder settings of `encode`, for a run with `threads` threads.
fn encode_settings(encode: &EncodeSpec, threads: usize) -> EncodeSettings {
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
