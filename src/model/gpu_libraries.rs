//! The GPU build of ONNX Runtime and the NVIDIA libraries it needs, where the setup script
//! installs them on a machine with an NVIDIA driver (PyPI's `onnxruntime-gpu` and
//! `nvidia-*` wheels, under FrameForge's data directory): found and loaded by the binary
//! itself, so that nobody sets `LD_LIBRARY_PATH` or `ORT_DYLIB_PATH` by hand.
//!
//! ONNX Runtime opens its CUDA and TensorRT providers with `dlopen`, and they name CUDA,
//! cuDNN and TensorRT by soname. A library already loaded under that soname satisfies
//! such a request, so the libraries are loaded from their full paths first
//! (`ort::util::preload_dylib`).

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// Below the data directory: the GPU build of ONNX Runtime (its library and providers).
pub const GPU_RUNTIME_SUBDIR: &str = "onnxruntime-gpu";
/// Below the data directory: the `nvidia-*` (and `tensorrt-*-libs`) wheels' contents.
pub const NVIDIA_SUBDIR: &str = "nvidia";

/// A library that marks the folder of CUDA's libraries (runtime, cuBLAS, cuFFT, …).
const CUDA_MARKER: &str = "libcudart.so.13";
/// A library that marks the folder of cuDNN's libraries.
const CUDNN_MARKER: &str = "libcudnn.so.9";
/// TensorRT's libraries, which its provider needs (PyPI `tensorrt-cu13-libs`).
const TENSORRT_LIBRARIES: [&str; 3] = [
    "libnvinfer.so.10",
    "libnvinfer_plugin.so.10",
    "libnvonnxparser.so.10",
];

/// Where the setup script puts things, below one data directory
/// (`$XDG_DATA_HOME/frameforge`, or `~/.local/share/frameforge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    /// The GPU build's folder.
    pub fn gpu_runtime(&self) -> PathBuf {
        self.root.join(GPU_RUNTIME_SUBDIR)
    }

    /// The NVIDIA libraries' folder.
    pub fn nvidia(&self) -> PathBuf {
        self.root.join(NVIDIA_SUBDIR)
    }
}

/// Whether this machine has a working NVIDIA kernel driver: `/proc/driver/nvidia` (or a
/// container's `/dev/nvidiactl`) below `system_root`.
pub fn driver_present(system_root: &Path) -> bool {
    system_root.join("proc/driver/nvidia/version").exists()
        || system_root.join("dev/nvidiactl").exists()
}

/// The folders holding each library the GPU providers need, as far as they are
/// installed below `nvidia`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NvidiaFolders {
    pub cuda: Option<PathBuf>,
    pub cudnn: Option<PathBuf>,
    pub tensorrt: Option<PathBuf>,
}

impl NvidiaFolders {
    /// Finds them below `nvidia` (wheels put them at different depths:
    /// `nvidia/cu13/lib`, `nvidia/cudnn/lib`, `tensorrt_libs`).
    pub fn find(nvidia: &Path) -> Self {
        let mut found = Self::default();
        if !nvidia.is_dir() {
            return found;
        }
        for entry in WalkDir::new(nvidia)
            .max_depth(4)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy();
            let folder = entry.path().parent().map(Path::to_path_buf);
            let slot = match name.as_ref() {
                CUDA_MARKER => &mut found.cuda,
                CUDNN_MARKER => &mut found.cudnn,
                name if name == TENSORRT_LIBRARIES[0] => &mut found.tensorrt,
                _ => continue,
            };
            if slot.is_none() {
                *slot = folder;
            }
        }
        found
    }

    /// Loads CUDA's and cuDNN's libraries (the lists ONNX Runtime's CUDA provider needs,
    /// as `ort` keeps them), then TensorRT's when installed, each set in order until one
    /// fails; what failed, as one sentence each.
    pub fn preload(&self) -> Vec<String> {
        let sets: [(&Option<PathBuf>, &[&str]); 3] = [
            (&self.cuda, ort::ep::cuda::CUDA_DYLIBS),
            (&self.cudnn, ort::ep::cuda::CUDNN_DYLIBS),
            (&self.tensorrt, &TENSORRT_LIBRARIES),
        ];
        let mut failures = Vec::new();
        for (folder, names) in sets {
            let Some(folder) = folder else { continue };
            for name in names {
                if let Err(error) = ort::util::preload_dylib(folder.join(name)) {
                    // libloading keeps the loader's own words (dlerror) as the source.
                    let reason = std::error::Error::source(&error)
                        .map_or_else(|| error.to_string(), ToString::to_string);
                    failures.push(format!("cannot load {name}: {reason}"));
                    break;
                }
            }
        }
        failures
    }
}

/// The GPU build's library in `layout`, when the driver is there to use it.
pub fn gpu_library(layout: &Layout, driver: bool) -> Option<PathBuf> {
    if !driver {
        return None;
    }
    super::runtime::library_in(&layout.gpu_runtime())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::runtime::ORT_VERSION;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn the_driver_is_seen_in_proc_or_dev() {
        let root = tempfile::tempdir().unwrap();
        assert!(!driver_present(root.path()));
        touch(&root.path().join("dev/nvidiactl"));
        assert!(driver_present(root.path()));
        let other = tempfile::tempdir().unwrap();
        touch(&other.path().join("proc/driver/nvidia/version"));
        assert!(driver_present(other.path()));
    }

    #[test]
    fn the_gpu_build_is_used_only_with_a_driver() {
        let data = tempfile::tempdir().unwrap();
        let layout = Layout {
            root: data.path().to_path_buf(),
        };
        assert_eq!(gpu_library(&layout, true), None);
        let library = layout
            .gpu_runtime()
            .join(format!("libonnxruntime.so.{ORT_VERSION}"));
        touch(&library);
        assert_eq!(gpu_library(&layout, true), Some(library));
        assert_eq!(gpu_library(&layout, false), None);
    }

    #[test]
    fn wheel_folders_are_found_at_their_depths() {
        let data = tempfile::tempdir().unwrap();
        let nvidia = data.path().join(NVIDIA_SUBDIR);
        assert_eq!(NvidiaFolders::find(&nvidia), NvidiaFolders::default());
        touch(&nvidia.join("nvidia/cu13/lib/libcudart.so.13"));
        touch(&nvidia.join("nvidia/cu13/lib/libcublas.so.13"));
        touch(&nvidia.join("nvidia/cudnn/lib/libcudnn.so.9"));
        touch(&nvidia.join("nvidia/cudnn/include/cudnn.h"));
        let without_tensorrt = NvidiaFolders::find(&nvidia);
        assert_eq!(
            without_tensorrt,
            NvidiaFolders {
                cuda: Some(nvidia.join("nvidia/cu13/lib")),
                cudnn: Some(nvidia.join("nvidia/cudnn/lib")),
                tensorrt: None,
            }
        );
        touch(&nvidia.join("tensorrt_libs/libnvinfer.so.10"));
        assert_eq!(
            NvidiaFolders::find(&nvidia).tensorrt,
            Some(nvidia.join("tensorrt_libs"))
        );
    }

    #[test]
    fn a_library_that_cannot_be_loaded_is_named() {
        let data = tempfile::tempdir().unwrap();
        let cuda = data.path().join("cu13/lib");
        // Not a shared object: the loader refuses it.
        touch(&cuda.join(CUDA_MARKER));
        let failures = NvidiaFolders {
            cuda: Some(cuda),
            ..NvidiaFolders::default()
        }
        .preload();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].starts_with("cannot load libcudart.so.13: "),
            "{failures:?}"
        );
    }
}
