//! Creating ONNX Runtime sessions for one device with a fixed thread count.
//!
//! Each inference worker owns its own session (`Session::run` takes `&mut self`), so the
//! thread budget is `workers × intra_threads`; inter-op parallelism stays off.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use ort::session::builder::SessionBuilder;

use super::half_precision::to_float16;
use super::onnx_file::OnnxFile;
use super::onnx_write::ModelParts;
use super::providers;
use super::runtime::{environment, Device, RuntimeError};
use super::shared_weights::session_weights;
use super::tensorrt_profile::ShapeProfile;
use crate::config::{Device as DeviceSetting, Precision};

/// How to build a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// The device as the pipeline asks for it.
    pub device: DeviceSetting,
    /// The float width of restoration models (files opened whole).
    pub precision: Precision,
    pub intra_threads: usize,
}

/// Errors while creating a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("device {device} is not available: {reason}")]
    GpuUnavailable { device: Device, reason: String },
    #[error("cannot load model {path}: {message}")]
    Load { path: String, message: String },
}

/// ONNX Runtime's setting for where a model built in memory finds its external data.
const EXTERNAL_DATA_FOLDER: &str = "session.model_external_initializers_file_folder_path";

static AUTO_FALLBACK_WARNED: AtomicBool = AtomicBool::new(false);

/// Opens `model` for the requested device. `auto` tries CUDA when the build and the
/// library support it and falls back to the CPU with a single warning per process.
///
/// # Errors
/// ONNX Runtime is missing, the model cannot be loaded, or CUDA was asked for explicitly
/// and cannot be used.
pub fn open_session(
    model: &Path,
    config: SessionConfig,
) -> Result<(Session, Device), SessionError> {
    open(Source::File(model), config, None)
}

/// [`open_session`] for a model run on windows within `profile` (a restore stage's
/// tiles): TensorRT builds its engine for those shapes when the session is made.
///
/// # Errors
/// As [`open_session`].
pub fn open_session_for_windows(
    model: &Path,
    config: SessionConfig,
    profile: Option<&ShapeProfile>,
) -> Result<(Session, Device), SessionError> {
    open(Source::File(model), config, profile)
}

/// Opens a model made of `parts` of `file` (see `onnx_file`): its weights are read by
/// ONNX Runtime from the file where they lie, and on the CPU the large ones are shared
/// with every other session that uses them (`shared_weights`).
///
/// # Errors
/// As [`open_session`]; the file cannot be read again.
pub fn open_session_from_parts(
    file: &OnnxFile,
    parts: &ModelParts<'_>,
    config: SessionConfig,
) -> Result<(Session, Device), SessionError> {
    let bytes = file.write_model(parts).map_err(|e| SessionError::Load {
        path: file.path.display().to_string(),
        message: format!("cannot read: {e}"),
    })?;
    open(
        Source::Parts {
            bytes: &bytes,
            file,
            parts,
        },
        config,
        None,
    )
}

/// Where a model comes from.
#[derive(Clone, Copy)]
enum Source<'a> {
    File(&'a Path),
    /// A model written from parts of `file`.
    Parts {
        bytes: &'a [u8],
        file: &'a OnnxFile,
        parts: &'a ModelParts<'a>,
    },
}

impl Source<'_> {
    fn path(&self) -> &Path {
        match self {
            Source::File(path) => path,
            Source::Parts { file, .. } => &file.path,
        }
    }
}

fn open(
    model: Source<'_>,
    config: SessionConfig,
    profile: Option<&ShapeProfile>,
) -> Result<(Session, Device), SessionError> {
    let device = match config.device {
        DeviceSetting::Cpu => Device::Cpu,
        DeviceSetting::Cuda(id) => Device::Cuda(id),
        DeviceSetting::TensorRt(id) => Device::TensorRt(id),
        DeviceSetting::Auto => {
            environment()?;
            // A library without CUDA (the CPU build) is the normal case on a machine
            // without a GPU, not something to warn about.
            if !providers::cuda_in_library() {
                return Ok((build(model, config, Device::Cpu, None)?, Device::Cpu));
            }
            match build(model, config, Device::Cuda(0), None) {
                Ok(session) => return Ok((session, Device::Cuda(0))),
                Err(SessionError::GpuUnavailable { reason, .. }) => {
                    if !AUTO_FALLBACK_WARNED.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "device auto: CUDA unavailable ({reason}); running on the CPU"
                        );
                    }
                    Device::Cpu
                }
                Err(other) => return Err(other),
            }
        }
    };
    Ok((build(model, config, device, profile)?, device))
}

fn build(
    model: Source<'_>,
    config: SessionConfig,
    device: Device,
    profile: Option<&ShapeProfile>,
) -> Result<Session, SessionError> {
    let env = environment()?;
    let load_error = |e: ort::Error| SessionError::Load {
        path: model.path().display().to_string(),
        message: without_path_prefix(&e.to_string()),
    };
    let mut builder = Session::builder(env)
        .map_err(load_error)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| load_error(e.into()))?
        .with_intra_threads(config.intra_threads.max(1))
        .map_err(|e| load_error(e.into()))?
        .with_inter_threads(1)
        .map_err(|e| load_error(e.into()))?
        // Spinning threads steal cycles from decode/encode threads and from other workers.
        .with_intra_op_spinning(false)
        .map_err(|e| load_error(e.into()))?
        // The planned-allocation cache keeps a second copy of a large tile's activations
        // (about 70 MB per session at tile 256) and gains nothing measurable here.
        .with_memory_pattern(false)
        .map_err(|e| load_error(e.into()))?;
    let half = config.precision == Precision::Fp16;
    builder = providers::register(builder, device, profile, half)?;
    match model {
        Source::File(path) => return commit_file(builder, path, config.precision),
        Source::Parts { bytes, file, parts } => {
            // Its weights are external data in the file it was made from.
            let folder = file.path.parent().unwrap_or(Path::new("."));
            builder = builder
                .with_config_entry(EXTERNAL_DATA_FOLDER, folder.to_string_lossy())
                .map_err(|e| load_error(e.into()))?;
            // On a GPU the weights go to the device; a host copy kept for sharing would
            // only cost memory.
            if device == Device::Cpu {
                builder = with_shared_weights(builder, file, parts).map_err(load_error)?;
            }
            builder.commit_from_memory(bytes)
        }
    }
    .map_err(load_error)
}

/// Commits a model file as it is, or converted to float16 under `fp16`. `auto` is settled
/// per model before any session of it is made (`float16_check::settle_precision`), so it
/// opens the file as it is.
fn commit_file(
    mut builder: SessionBuilder,
    path: &Path,
    precision: Precision,
) -> Result<Session, SessionError> {
    let load_error = |message: String| SessionError::Load {
        path: path.display().to_string(),
        message,
    };
    if precision != Precision::Fp16 {
        return builder
            .commit_from_file(path)
            .map_err(|e| load_error(without_path_prefix(&e.to_string())));
    }
    let half = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| to_float16(&bytes).map_err(|e| e.to_string()))
        .map_err(|reason| load_error(format!("cannot convert it to float16: {reason}")))?;
    builder.commit_from_memory(&half).map_err(|e| {
        load_error(format!(
            "its float16 form does not load ({}); `precision: fp32` runs it as it is",
            without_path_prefix(&e.to_string())
        ))
    })
}

/// Hands the session the weights other sessions of the same file use. ONNX Runtime
/// would pack them again for its matrix kernels, a copy per session (or, shared, a
/// second copy beside the originals); unpacked they run as fast here (BENCHMARKS.md).
fn with_shared_weights(
    mut builder: SessionBuilder,
    file: &OnnxFile,
    parts: &ModelParts<'_>,
) -> Result<SessionBuilder, ort::Error> {
    let tensors = session_weights(file, &parts.initializers)
        .map_err(|e| ort::Error::new(format!("cannot read: {e}")))?;
    if tensors.is_empty() {
        return Ok(builder);
    }
    for (name, tensor) in tensors {
        builder = builder
            .with_initializer(name, tensor)
            .map_err(ort::Error::<()>::from)?;
    }
    builder
        .with_prepacking(false)
        .map_err(ort::Error::<()>::from)
}

/// ONNX Runtime prefixes load errors with `Load model from PATH failed:`; the path is
/// already in our message.
fn without_path_prefix(message: &str) -> String {
    match message.split_once(" failed:") {
        Some((head, tail)) if head.starts_with("Load model from") => tail.trim().to_string(),
        _ => message.to_string(),
    }
}
