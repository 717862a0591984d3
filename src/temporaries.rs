//! The temporary outputs being written at this moment, so that a run that must end at
//! once (a second Ctrl-C) removes them first instead of leaving `.NAME.frameforge-tmp.*`
//! files for a user to find. A leaf module: it depends on nothing else in the crate.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Every registered temporary, once per registration.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temporary that is being written; it leaves the registry when dropped.
#[derive(Debug)]
pub struct LiveTemporary {
    path: PathBuf,
}

impl LiveTemporary {
    /// Registers `path` (which need not exist yet).
    #[must_use]
    pub fn register(path: &Path) -> Self {
        live().push(path.to_path_buf());
        Self {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for LiveTemporary {
    fn drop(&mut self) {
        let mut live = live();
        if let Some(at) = live.iter().position(|path| *path == self.path) {
            live.swap_remove(at);
        }
    }
}

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A thread that panicked while registering left a usable list.
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes every registered temporary that exists, then calls `end` with those removed
/// while still holding the registry, so no new temporary is registered (and left)
/// before `end` ends the process.
pub fn remove_all_then(end: impl FnOnce(&[PathBuf]) -> std::convert::Infallible) -> ! {
    let live = live();
    let mut removed: Vec<PathBuf> = Vec::new();
    for path in live.iter() {
        if !removed.contains(path) && std::fs::remove_file(path).is_ok() {
            removed.push(path.clone());
        }
    }
    match end(&removed) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_temporary_leaves_the_registry() {
        let path = PathBuf::from("/nowhere/.a.mkv.frameforge-tmp.mkv");
        let first = LiveTemporary::register(&path);
        let second = LiveTemporary::register(&path);
        drop(first);
        assert_eq!(live().iter().filter(|p| **p == path).count(), 1);
        drop(second);
        assert!(!live().contains(&path));
    }
}
