//! TensorRT builds an engine the first time a model meets an input shape, or the shape
//! profile a session declares (seconds, for large models minutes), then reads it from its
//! cache. The first session of each model and profile, or the first run of each model and
//! shape without one, in a process is announced before and timed after, so that a long
//! start reads as what it is and the build time is reported once per model and shape.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::runtime::Device;
use super::tensorrt_profile::ShapeProfile;

/// A model file and an input shape it has run at, or a profile it was opened for.
type ModelShape = (PathBuf, String);

static SEEN: Mutex<Option<HashSet<ModelShape>>> = Mutex::new(None);

/// Runs `run`, the inference of `path` at input `shape` on `device`; on TensorRT, the
/// first such run in this process is announced and timed.
pub fn timed_first_run<R>(
    device: Device,
    path: &Path,
    shape: &[usize],
    run: impl FnOnce() -> R,
) -> R {
    if !matches!(device, Device::TensorRt(_)) || !first_time(path, &format!("{shape:?}")) {
        return run();
    }
    announced(path, &format!("input {shape:?}"), run)
}

/// Opens a TensorRT session of `path` for `profile` with `open`, which builds its engine
/// for that profile (or reads it from the cache); the first such opening in this process
/// is announced and timed.
pub fn timed_engine_at_open<R>(path: &Path, profile: &ShapeProfile, open: impl FnOnce() -> R) -> R {
    if !first_time(path, &profile.describe()) {
        return open();
    }
    announced(path, &format!("inputs {}", profile.describe()), open)
}

/// Runs `work`, announced before and timed after as preparing the engine for `what`.
fn announced<R>(path: &Path, what: &str, work: impl FnOnce() -> R) -> R {
    tracing::info!(
        "{}: TensorRT prepares its engine for {what} (built once, then read from its cache)",
        path.display()
    );
    let start = Instant::now();
    let result = work();
    tracing::info!(
        "{}: TensorRT engine for {what} ready in {:.1} s",
        path.display(),
        start.elapsed().as_secs_f64()
    );
    result
}

/// Whether this is the first time `path` meets `shape` (a shape or a profile) in this
/// process.
fn first_time(path: &Path, shape: &str) -> bool {
    SEEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert((path.to_path_buf(), shape.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_and_shape_is_new_once() {
        let model = Path::new("/models/first_time_test.onnx");
        assert!(first_time(model, "[1, 3, 64, 64]"));
        assert!(!first_time(model, "[1, 3, 64, 64]"));
        assert!(first_time(model, "[1, 3, 64, 96]"));
        assert!(first_time(
            Path::new("/models/other.onnx"),
            "[1, 3, 64, 64]"
        ));
    }

    #[test]
    fn other_devices_run_without_being_recorded() {
        let model = Path::new("/models/cpu_test.onnx");
        assert_eq!(timed_first_run(Device::Cpu, model, &[1, 3, 8, 8], || 7), 7);
        assert!(first_time(model, "[1, 3, 8, 8]"));
        assert_eq!(
            timed_first_run(Device::TensorRt(0), model, &[1, 3, 8, 8], || 8),
            8
        );
        assert_eq!(
            timed_first_run(Device::TensorRt(0), model, &[1, 3, 4, 4], || 9),
            9
        );
        assert!(!first_time(model, "[1, 3, 4, 4]"));
    }

    #[test]
    fn a_profile_is_announced_once_per_model() {
        let model = Path::new("/models/profile_test.onnx");
        let profile = ShapeProfile {
            input: "input".into(),
            min: [1, 3, 1, 1],
            opt: [2, 3, 288, 288],
            max: [2, 3, 288, 288],
        };
        assert_eq!(timed_engine_at_open(model, &profile, || 1), 1);
        assert!(!first_time(model, &profile.describe()));
        assert_eq!(timed_engine_at_open(model, &profile, || 2), 2);
    }
}
