//! Creating ONNX Runtime sessions for one device with a fixed thread count.
//!
//! Each inference worker owns its own session (`Session::run` takes `&mut self`), so the
//! thread budget is `workers × intra_threads`; inter-op parallelism stays off.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use ort::session::builder::SessionBuilder;

use super::onnx_file::OnnxFile;
use super::onnx_write::ModelParts;
use super::runtime::{environment, Device, RuntimeError};
use super::shared_weights::session_weights;
use crate::config::Device as DeviceSetting;

/// How to build a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// The device as the pipeline asks for it.
    pub device: DeviceSetting,
    pub intra_threads: usize,
}

/// Errors while creating a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(
        "device cuda:{0} was asked for, but this build has no CUDA support \
         (rebuild with `--features cuda`)"
    )]
    CudaNotBuilt(u32),
    #[error("device cuda:{device} is not available: {reason}")]
    CudaUnavailable { device: u32, reason: String },
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
    open(Source::File(model), config)
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

fn open(model: Source<'_>, config: SessionConfig) -> Result<(Session, Device), SessionError> {
    match config.device {
        DeviceSetting::Cpu => Ok((build(model, config, None)?, Device::Cpu)),
        DeviceSetting::Cuda(id) => Ok((build(model, config, Some(id))?, Device::Cuda(id))),
        DeviceSetting::Auto => {
            if cfg!(feature = "cuda") {
                match build(model, config, Some(0)) {
                    Ok(session) => return Ok((session, Device::Cuda(0))),
                    Err(SessionError::CudaUnavailable { reason, .. }) => {
                        if !AUTO_FALLBACK_WARNED.swap(true, Ordering::Relaxed) {
                            tracing::warn!(
                                "device auto: CUDA unavailable ({reason}); running on the CPU"
                            );
                        }
                    }
                    Err(other) => return Err(other),
                }
            }
            Ok((build(model, config, None)?, Device::Cpu))
        }
    }
}

fn build(
    model: Source<'_>,
    config: SessionConfig,
    cuda: Option<u32>,
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
    if let Some(device) = cuda {
        builder = with_cuda(builder, device)?;
    }
    static SHARED: std::sync::OnceLock<ort::session::builder::PrepackedWeights> =
        std::sync::OnceLock::new();
    if std::env::var_os("FF_X_SHARE").is_some() {
        builder = builder
            .with_prepacked_weights(
                SHARED.get_or_init(ort::session::builder::PrepackedWeights::new),
            )
            .map_err(|e| load_error(e.into()))?;
    }
    match model {
        Source::File(path) => builder.commit_from_file(path),
        Source::Parts { bytes, file, parts } => {
            // Its weights are external data in the file it was made from.
            let folder = file.path.parent().unwrap_or(Path::new("."));
            builder = builder
                .with_config_entry(EXTERNAL_DATA_FOLDER, folder.to_string_lossy())
                .map_err(|e| load_error(e.into()))?;
            // On a GPU the weights go to the device; a host copy kept for sharing would
            // only cost memory.
            if cuda.is_none() {
                builder = with_shared_weights(builder, file, parts).map_err(load_error)?;
            }
            builder.commit_from_memory(bytes)
        }
    }
    .map_err(load_error)
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

#[cfg(feature = "cuda")]
fn with_cuda(
    builder: ort::session::builder::SessionBuilder,
    device: u32,
) -> Result<ort::session::builder::SessionBuilder, SessionError> {
    use ort::ep::ExecutionProvider;
    let unavailable = |reason: String| SessionError::CudaUnavailable { device, reason };
    match ort::ep::CUDA::is_available() {
        Ok(true) => {}
        Ok(false) => {
            return Err(unavailable(
                "the loaded ONNX Runtime library has no CUDA execution provider".into(),
            ))
        }
        Err(e) => return Err(unavailable(e.to_string())),
    }
    let id = i32::try_from(device).map_err(|_| unavailable("device index too large".into()))?;
    builder
        .with_execution_providers([ort::ep::CUDA::default()
            .with_device_id(id)
            .build()
            .error_on_failure()])
        .map_err(|e| unavailable(provider_failure(&ort::Error::<()>::from(e).to_string())))
}

/// ONNX Runtime reports a CUDA provider that cannot be loaded with its own source
/// location and error codes; the reason a user can act on is the library the loader
/// did not find.
#[cfg(any(feature = "cuda", test))]
fn provider_failure(message: &str) -> String {
    let message = message.trim();
    let reason = match message.rsplit_once(" : ") {
        Some((head, tail)) if head.contains("[ONNXRuntimeError]") => tail.trim(),
        _ => message,
    };
    match reason
        .strip_prefix("Failed to load library ")
        .and_then(|rest| rest.split_once(" with error: "))
    {
        Some((library, error)) => {
            let name = Path::new(library)
                .file_name()
                .map_or_else(|| library.into(), |n| n.to_string_lossy());
            format!(
                "cannot load {name}: {} (the CUDA and cuDNN libraries of this ONNX Runtime \
                 build must be on the loader's path, e.g. LD_LIBRARY_PATH)",
                error.trim()
            )
        }
        None => reason.to_string(),
    }
}

#[cfg(not(feature = "cuda"))]
fn with_cuda(
    _builder: ort::session::builder::SessionBuilder,
    device: u32,
) -> Result<ort::session::builder::SessionBuilder, SessionError> {
    Err(SessionError::CudaNotBuilt(device))
}

#[cfg(test)]
mod tests {
    use super::provider_failure;

    #[test]
    fn a_missing_cuda_library_is_named_without_onnx_runtime_internals() {
        let raw = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 \
            onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : \
            FAIL : Failed to load library /opt/ort/capi/libonnxruntime_providers_cuda.so with \
            error: libcublasLt.so.13: cannot open shared object file: No such file or directory\n";
        assert_eq!(
            provider_failure(raw),
            "cannot load libonnxruntime_providers_cuda.so: libcublasLt.so.13: cannot open \
             shared object file: No such file or directory (the CUDA and cuDNN libraries of \
             this ONNX Runtime build must be on the loader's path, e.g. LD_LIBRARY_PATH)"
        );
    }

    #[test]
    fn other_provider_errors_keep_their_reason() {
        let raw = "/src/x.cc:12 f() [ONNXRuntimeError] : 1 : FAIL : CUDA failure 100: no CUDA-capable device is detected";
        assert_eq!(
            provider_failure(raw),
            "CUDA failure 100: no CUDA-capable device is detected"
        );
        assert_eq!(provider_failure("plain reason"), "plain reason");
    }
}
