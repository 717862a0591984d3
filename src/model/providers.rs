//! Execution providers: what a session runs on (CUDA, TensorRT with CUDA behind it, or
//! the CPU), and why a GPU cannot be used, in words a user can act on.
//!
//! Every build can use a GPU: ONNX Runtime is loaded at run time, so whether CUDA and
//! TensorRT are there is a property of the loaded library (the setup script installs
//! the GPU build on a machine with an NVIDIA driver), not of how FrameForge was built.

use std::path::{Path, PathBuf};

use ort::ep::ExecutionProvider;
use ort::session::builder::SessionBuilder;

use super::runtime::{loaded_library, preload_failures, Device};
use super::session::SessionError;
use super::tensorrt_profile::ShapeProfile;

/// Below the user's cache directory: TensorRT's engines and timing caches, so an engine
/// is built once per model, shape and GPU.
const TENSORRT_CACHE_SUBDIR: &str = "frameforge/tensorrt";

/// Whether the loaded ONNX Runtime library has the CUDA provider.
pub fn cuda_in_library() -> bool {
    matches!(ort::ep::CUDA::is_available(), Ok(true))
}

/// `builder` with the providers for `device`; the CPU needs none. TensorRT gets the
/// input shapes in `profile` when there is one, and may run float16 kernels when the
/// model is the float16 form (`half`).
///
/// # Errors
/// The device's provider is not in the loaded library, or cannot start (its CUDA, cuDNN
/// or TensorRT libraries are missing, or there is no such GPU).
pub fn register(
    builder: SessionBuilder,
    device: Device,
    profile: Option<&ShapeProfile>,
    half: bool,
) -> Result<SessionBuilder, SessionError> {
    let unavailable = |reason: String| SessionError::GpuUnavailable { device, reason };
    let (id, tensorrt) = match device {
        Device::Cpu => return Ok(builder),
        Device::Cuda(id) => (id, false),
        Device::TensorRt(id) => (id, true),
    };
    let id = i32::try_from(id).map_err(|_| unavailable("device index too large".into()))?;
    require_for(device)?;
    let cuda = ort::ep::CUDA::default()
        .with_device_id(id)
        .build()
        .error_on_failure();
    let registered = if tensorrt {
        let cache = tensorrt_cache().map_err(unavailable)?;
        let cache = cache.to_string_lossy();
        // Float16 follows `precision` and its float16 check: TensorRT's fp16 mode is on
        // only for a graph already converted to float16 (which it needs to run float16
        // kernels at all); on for every model, it would pick float16 layer by layer also
        // for those it ruins (SPAN x2 ch48 ends 33 dB from float32).
        let mut provider = ort::ep::TensorRT::default()
            .with_device_id(id)
            .with_fp16(half)
            .with_engine_cache(true)
            .with_engine_cache_path(&cache)
            .with_timing_cache(true)
            .with_timing_cache_path(&cache);
        if let Some(profile) = profile {
            provider = provider
                .with_profile_min_shapes(profile.option(profile.min))
                .with_profile_opt_shapes(profile.option(profile.opt))
                .with_profile_max_shapes(profile.option(profile.max));
        }
        let provider = provider.build().error_on_failure();
        builder.with_execution_providers([provider, cuda])
    } else {
        builder.with_execution_providers([cuda])
    };
    registered.map_err(|e| unavailable(provider_failure(&ort::Error::<()>::from(e).to_string())))
}

/// Whether the providers `device` needs are in the loaded library.
///
/// # Errors
/// One is not, named with the library and the way to the GPU build.
pub fn require_for(device: Device) -> Result<(), SessionError> {
    let unavailable = |reason: String| SessionError::GpuUnavailable { device, reason };
    if let Device::TensorRt(_) = device {
        require::<ort::ep::TensorRT>("TensorRT").map_err(unavailable)?;
    }
    if device != Device::Cpu {
        require::<ort::ep::CUDA>("CUDA").map_err(unavailable)?;
    }
    Ok(())
}

/// Whether provider `P` (named `name`) is in the loaded library; if not, why not.
fn require<P: ExecutionProvider>(name: &str) -> Result<(), String> {
    match P::is_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(missing_provider(name, loaded_library())),
        Err(error) => Err(error.to_string()),
    }
}

/// The loaded library lacks the provider: name the library and the way to the GPU build.
fn missing_provider(name: &str, library: Option<&Path>) -> String {
    let library = library.map_or_else(
        || "the loaded ONNX Runtime library".to_string(),
        |path| format!("the ONNX Runtime library {}", path.display()),
    );
    format!(
        "{library} has no {name} execution provider (on a machine with an NVIDIA driver, \
         `bash tools/setup.sh` installs the GPU build, which the binary then uses)"
    )
}

/// The TensorRT cache folder, created if needed.
fn tensorrt_cache() -> Result<PathBuf, String> {
    let cache_home = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or(
            "no cache directory for TensorRT's engines (neither XDG_CACHE_HOME nor HOME is set)",
        )?;
    let folder = cache_home.join(TENSORRT_CACHE_SUBDIR);
    std::fs::create_dir_all(&folder)
        .map_err(|e| format!("cannot create the TensorRT cache {}: {e}", folder.display()))?;
    Ok(folder)
}

/// ONNX Runtime reports a provider that cannot be loaded with its own source location
/// and error codes; the reason a user can act on is the library the loader did not find.
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
            let error = error.trim();
            let preloading = match preload_failures() {
                [] => String::new(),
                failures => format!(
                    "; loading the GPU libraries from FrameForge's data directory failed: {}",
                    failures.join("; ")
                ),
            };
            format!(
                "cannot load {name}: {error} ({}{preloading})",
                missing_library_hint(error)
            )
        }
        None => reason.to_string(),
    }
}

/// Where the library the loader did not find comes from, by its name at the start of
/// the loader's message (`libcublasLt.so.13: cannot open shared object file`).
fn missing_library_hint(error: &str) -> &'static str {
    if error.starts_with("libcuda.so") {
        "libcuda.so.1 is the NVIDIA driver's own library: this machine has no working \
         NVIDIA driver"
    } else if error.starts_with("libnvinfer") || error.starts_with("libnvonnxparser") {
        "TensorRT's libraries are installed by `FRAMEFORGE_TENSORRT=1 bash tools/setup.sh`, \
         or must be on LD_LIBRARY_PATH"
    } else {
        "the CUDA and cuDNN libraries of this ONNX Runtime build are installed by \
         `bash tools/setup.sh` on a machine with an NVIDIA driver, or must be on \
         LD_LIBRARY_PATH"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
             this ONNX Runtime build are installed by `bash tools/setup.sh` on a machine with \
             an NVIDIA driver, or must be on LD_LIBRARY_PATH)"
        );
    }

    #[test]
    fn the_driver_and_tensorrt_are_named_as_such() {
        let failure = |library: &str| {
            provider_failure(&format!(
                "[ONNXRuntimeError] : 1 : FAIL : Failed to load library /g/libonnxruntime_providers_x.so \
                 with error: {library}: cannot open shared object file: No such file or directory"
            ))
        };
        assert!(failure("libcuda.so.1").ends_with(
            "(libcuda.so.1 is the NVIDIA driver's own library: this machine has no working \
             NVIDIA driver)"
        ));
        assert!(failure("libnvinfer.so.10").ends_with(
            "(TensorRT's libraries are installed by `FRAMEFORGE_TENSORRT=1 bash \
             tools/setup.sh`, or must be on LD_LIBRARY_PATH)"
        ));
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

    #[test]
    fn a_library_without_the_provider_names_itself_and_the_setup() {
        assert_eq!(
            missing_provider("TensorRT", Some(Path::new("/d/libonnxruntime.so.1.31.1"))),
            "the ONNX Runtime library /d/libonnxruntime.so.1.31.1 has no TensorRT execution \
             provider (on a machine with an NVIDIA driver, `bash tools/setup.sh` installs the \
             GPU build, which the binary then uses)"
        );
    }
}
