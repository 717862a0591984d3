//! TensorRT builds an engine the first time a model meets an input shape (seconds, for
//! large models minutes), then reads it from its cache. The first run of each model and
//! shape in a process is announced before and timed after, so that a long first frame
//! reads as what it is and the build time is reported once per model and shape.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::runtime::Device;

/// A model file and an input shape it has run at.
type ModelShape = (PathBuf, Vec<usize>);

static SEEN: Mutex<Option<HashSet<ModelShape>>> = Mutex::new(None);

/// Runs `run`, the inference of `path` at input `shape` on `device`; on TensorRT, the
/// first such run in this process is announced and timed.
pub fn timed_first_run<R>(
    device: Device,
    path: &Path,
    shape: &[usize],
    run: impl FnOnce() -> R,
) -> R {
    if !matches!(device, Device::TensorRt(_)) || !first_time(path, shape) {
        return run();
    }
    tracing::info!(
        "{}: TensorRT prepares its engine for input {shape:?} (built once, then read from its cache)",
        path.display()
    );
    let start = Instant::now();
    let result = run();
    tracing::info!(
        "{}: TensorRT engine for input {shape:?} ready in {:.1} s",
        path.display(),
        start.elapsed().as_secs_f64()
    );
    result
}

/// Whether this is the first time `path` meets `shape` in this process.
fn first_time(path: &Path, shape: &[usize]) -> bool {
    SEEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert((path.to_path_buf(), shape.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_and_shape_is_new_once() {
        let model = Path::new("/models/first_time_test.onnx");
        assert!(first_time(model, &[1, 3, 64, 64]));
        assert!(!first_time(model, &[1, 3, 64, 64]));
        assert!(first_time(model, &[1, 3, 64, 96]));
        assert!(first_time(Path::new("/models/other.onnx"), &[1, 3, 64, 64]));
    }

    #[test]
    fn other_devices_run_without_being_recorded() {
        let model = Path::new("/models/cpu_test.onnx");
        assert_eq!(timed_first_run(Device::Cpu, model, &[1, 3, 8, 8], || 7), 7);
        assert!(first_time(model, &[1, 3, 8, 8]));
        assert_eq!(
            timed_first_run(Device::TensorRt(0), model, &[1, 3, 8, 8], || 8),
            8
        );
        assert_eq!(
            timed_first_run(Device::TensorRt(0), model, &[1, 3, 4, 4], || 9),
            9
        );
        assert!(!first_time(model, &[1, 3, 4, 4]));
    }
}
