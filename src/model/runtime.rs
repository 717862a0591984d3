//! ONNX Runtime start-up: finding the shared library, creating the one process-wide
//! environment, and turning the pipeline's `device` into execution providers.
//!
//! The library is loaded at run time (`load-dynamic`), so a missing or wrong library is a
//! clear error instead of a link failure or a panic.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

use super::gpu_libraries::{driver_present, gpu_library, Layout, NvidiaFolders};

/// Environment variable that names the ONNX Runtime library explicitly.
pub const DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// The ONNX Runtime release this build is made for (`ort`'s `api-31`).
pub const ORT_VERSION: &str = "1.31.1";

/// FrameForge's folder below the user's data directory.
const DATA_SUBDIR: &str = "frameforge";
/// Below it: the CPU build of ONNX Runtime.
const CPU_RUNTIME_SUBDIR: &str = "onnxruntime";

/// Errors while loading ONNX Runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found (looked in: {searched}); install it with \
         `bash tools/setup.sh` or point {DYLIB_ENV} at libonnxruntime.so.{ORT_VERSION}"
    )]
    NotFound { searched: String },
    #[error("{0}")]
    Unavailable(String),
    #[error("{DYLIB_ENV}={path} does not exist")]
    EnvPathMissing { path: String },
    #[error("cannot load ONNX Runtime from {path}: {source}")]
    Load {
        path: String,
        #[source]
        source: ort::Error,
    },
}

/// What a session was actually built for: the pipeline's [`crate::config::Device`]
/// resolved, so never `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda(u32),
    /// TensorRT on this GPU, with CUDA for what TensorRT does not take.
    TensorRt(u32),
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
            Device::TensorRt(n) => write!(f, "tensorrt:{n}"),
        }
    }
}

/// Model sessions at once on a GPU when the pipeline does not say: enough for one
/// session's frame conversions on the CPU to overlap another's inference (BENCHMARKS.md).
pub const DEFAULT_GPU_SESSIONS: u32 = 4;

impl Device {
    /// How many model sessions run at once: one single-threaded session per thread on
    /// the CPU; on a GPU the threads do not run the model, and every extra session costs
    /// its own cuDNN set-up and memory, so a few (`gpu_sessions`) keep it busy.
    pub fn sessions(self, threads: usize, gpu_sessions: Option<u32>) -> usize {
        match self {
            Device::Cpu => threads.max(1),
            Device::Cuda(_) | Device::TensorRt(_) => {
                gpu_sessions.unwrap_or(DEFAULT_GPU_SESSIONS).max(1) as usize
            }
        }
    }
}

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();
/// The library the environment was made from, and what could not be preloaded for its
/// GPU providers.
static LOADED: OnceLock<(PathBuf, Vec<String>)> = OnceLock::new();

/// The process-wide ONNX Runtime environment, created on first use.
///
/// # Errors
/// The library cannot be found or loaded (the message says where it looked).
pub fn environment() -> Result<&'static Environment, RuntimeError> {
    // ONNX Runtime can be loaded once per process, so a failed first attempt is final and
    // every later caller gets the same explanation.
    ENVIRONMENT
        .get_or_init(|| create_environment().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|message| RuntimeError::Unavailable(message.clone()))
}

/// The ONNX Runtime library in use, once the environment exists.
pub fn loaded_library() -> Option<&'static Path> {
    LOADED.get().map(|(path, _)| path.as_path())
}

/// Why the GPU providers' libraries could not all be loaded, when they could not.
pub fn preload_failures() -> &'static [String] {
    LOADED
        .get()
        .map_or(&[], |(_, failures)| failures.as_slice())
}

fn create_environment() -> Result<Environment, RuntimeError> {
    let layout = data_layout();
    let driver = driver_present(Path::new("/"));
    let path = locate_library(layout.as_ref(), driver)?;
    let display = path.display().to_string();
    let builder = ort::init_from(&path).map_err(|e| RuntimeError::Load {
        path: display.clone(),
        source: ort::Error::new(e.to_string()),
    })?;
    let failures = match layout {
        Some(layout) if driver => NvidiaFolders::find(&layout.nvidia()).preload(),
        _ => Vec::new(),
    };
    let _ = LOADED.set((path, failures));
    builder
        .with_name("frameforge")
        .build()
        .map_err(|source| RuntimeError::Load {
            path: display,
            source,
        })
}

/// Finds the ONNX Runtime shared library: `ORT_DYLIB_PATH`, then the GPU build the setup
/// script installed (on a machine with an NVIDIA driver), then its CPU build, then the
/// system library directories. `layout`: FrameForge's data directory; `driver`: whether
/// the machine has an NVIDIA driver.
///
/// # Errors
/// `ORT_DYLIB_PATH` names a missing file, or no candidate exists.
fn locate_library(layout: Option<&Layout>, driver: bool) -> Result<PathBuf, RuntimeError> {
    if let Some(explicit) = std::env::var_os(DYLIB_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(RuntimeError::EnvPathMissing {
                path: path.display().to_string(),
            })
        };
    }
    if let Some(gpu) = layout.and_then(|layout| gpu_library(layout, driver)) {
        return Ok(gpu);
    }
    let dirs = candidate_dirs(layout);
    for dir in &dirs {
        if let Some(found) = library_in(dir) {
            return Ok(found);
        }
    }
    Err(RuntimeError::NotFound {
        searched: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// FrameForge's data directory, where the setup script installs ONNX Runtime.
fn data_layout() -> Option<Layout> {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(Layout {
        root: data_home.join(DATA_SUBDIR),
    })
}

fn candidate_dirs(layout: Option<&Layout>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = layout
        .map(|layout| layout.root.join(CPU_RUNTIME_SUBDIR))
        .into_iter()
        .collect();
    dirs.extend(
        ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu"]
            .iter()
            .map(PathBuf::from),
    );
    dirs
}

/// The best library file in `dir`: the exact version this build targets, else the plain
/// `libonnxruntime.so`.
pub(crate) fn library_in(dir: &Path) -> Option<PathBuf> {
    [
        format!("libonnxruntime.so.{ORT_VERSION}"),
        "libonnxruntime.so.1".to_string(),
        "libonnxruntime.so".to_string(),
    ]
    .into_iter()
    .map(|name| dir.join(name))
    .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_in_prefers_the_exact_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("libonnxruntime.so"), b"").unwrap();
        assert_eq!(
            library_in(dir.path()).unwrap(),
            dir.path().join("libonnxruntime.so")
        );
        let exact = dir.path().join(format!("libonnxruntime.so.{ORT_VERSION}"));
        std::fs::write(&exact, b"").unwrap();
        assert_eq!(library_in(dir.path()).unwrap(), exact);
    }

    #[test]
    fn empty_dir_has_no_library() {
        let dir = tempfile::tempdir().unwrap();
        assert!(library_in(dir.path()).is_none());
    }

    #[test]
    fn cpu_runs_a_session_per_thread_and_a_gpu_a_few() {
        assert_eq!(Device::Cpu.sessions(16, Some(2)), 16);
        assert_eq!(
            Device::Cuda(0).sessions(16, None),
            DEFAULT_GPU_SESSIONS as usize
        );
        assert_eq!(Device::Cuda(0).sessions(16, Some(2)), 2);
        assert_eq!(Device::Cuda(1).sessions(1, Some(3)), 3);
    }
}
