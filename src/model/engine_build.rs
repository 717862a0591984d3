//! TensorRT builds an engine the first time a model meets an input shape, or the shape
//! profile a session declares (seconds, for large models minutes), then reads it from its
//! cache. The first session of each model and profile, or the first run of each model and
//! shape without one, in a process is announced before and timed after, so that a long
//! start reads as what it is and the build time is reported once per model and shape.
//! Other sessions meeting the same model and shape meanwhile wait for that build to end
//! and then read the engine from the cache, rather than each building it at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

use super::runtime::Device;
use super::tensorrt_profile::ShapeProfile;

/// A model file and an input shape it has run at, or a profile it was opened for.
type ModelShape = (PathBuf, String);

/// Every model and shape met, and whether its engine is ready (its first build over).
static BUILDS: Mutex<Option<HashMap<ModelShape, bool>>> = Mutex::new(None);
static BUILT: Condvar = Condvar::new();

/// Runs `run`, the inference of `path` at input `shape` on `device`; on TensorRT, the
/// first such run in this process is announced and timed.
pub fn timed_first_run<R>(
    device: Device,
    path: &Path,
    shape: &[usize],
    run: impl FnOnce() -> R,
) -> R {
    if !matches!(device, Device::TensorRt(_)) {
        return run();
    }
    let key = format!("{shape:?}");
    match first_time(path, &key) {
        Some(build) => {
            let result = announced(path, &format!("input {shape:?}"), run);
            drop(build);
            result
        }
        None => run(),
    }
}

/// Opens a TensorRT session of `path` for `profile` with `open`, which builds its engine
/// for that profile (or reads it from the cache); the first such opening in this process
/// is announced and timed.
pub fn timed_engine_at_open<R>(path: &Path, profile: &ShapeProfile, open: impl FnOnce() -> R) -> R {
    match first_time(path, &profile.describe()) {
        Some(build) => {
            let result = announced(path, &format!("inputs {}", profile.describe()), open);
            drop(build);
            result
        }
        None => open(),
    }
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

/// The first build of an engine, marked ready when it ends (also by a panic).
struct FirstBuild(ModelShape);

impl Drop for FirstBuild {
    fn drop(&mut self) {
        let mut builds = BUILDS.lock().unwrap_or_else(PoisonError::into_inner);
        builds
            .get_or_insert_with(HashMap::new)
            .insert(self.0.clone(), true);
        BUILT.notify_all();
    }
}

/// `Some` when this is the first time `path` meets `shape` (a shape or a profile) in this
/// process: the caller builds the engine, and holds the returned guard until it is done.
/// `None` once that build is over; while it lasts, this waits for it.
fn first_time(path: &Path, shape: &str) -> Option<FirstBuild> {
    let key = (path.to_path_buf(), shape.to_string());
    let mut builds = BUILDS.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        match builds.get_or_insert_with(HashMap::new).get(&key) {
            None => {
                builds
                    .get_or_insert_with(HashMap::new)
                    .insert(key.clone(), false);
                return Some(FirstBuild(key));
            }
            Some(true) => return None,
            Some(false) => {
                builds = BUILT.wait(builds).unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_and_shape_is_new_once() {
        let model = Path::new("/models/first_time_test.onnx");
        assert!(first_time(model, "[1, 3, 64, 64]").is_some());
        assert!(first_time(model, "[1, 3, 64, 64]").is_none());
        assert!(first_time(model, "[1, 3, 64, 96]").is_some());
        assert!(first_time(Path::new("/models/other.onnx"), "[1, 3, 64, 64]").is_some());
    }

    #[test]
    fn other_devices_run_without_being_recorded() {
        let model = Path::new("/models/cpu_test.onnx");
        assert_eq!(timed_first_run(Device::Cpu, model, &[1, 3, 8, 8], || 7), 7);
        assert!(first_time(model, "[1, 3, 8, 8]").is_some());
        assert_eq!(
            timed_first_run(Device::TensorRt(0), model, &[1, 3, 8, 8], || 8),
            8
        );
        assert_eq!(
            timed_first_run(Device::TensorRt(0), model, &[1, 3, 4, 4], || 9),
            9
        );
        assert!(first_time(model, "[1, 3, 4, 4]").is_none());
    }

    #[test]
    fn sessions_meeting_a_shape_together_wait_for_its_first_build() {
        let model = Path::new("/models/together_test.onnx");
        let events = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    timed_first_run(Device::TensorRt(0), model, &[1, 3, 16, 16], || {
                        events.lock().unwrap().push("start");
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        events.lock().unwrap().push("end");
                    })
                });
            }
        });
        let events = events.into_inner().unwrap();
        assert_eq!(events.len(), 8);
        // The first run (the build) ends before any other starts.
        assert_eq!(&events[..2], ["start", "end"], "{events:?}");
        assert!(first_time(model, "[1, 3, 16, 16]").is_none());
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
        assert!(first_time(model, &profile.describe()).is_none());
        assert_eq!(timed_engine_at_open(model, &profile, || 2), 2);
    }
}
