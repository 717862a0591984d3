//! The output-directory lock: one run per output directory (and shard) at a time, so two
//! cron runs never process the same files. The lock is an OS file lock, which the kernel
//! drops when its process dies, so a crashed run never leaves a lock that blocks the next.

use crate::report::run_id::{unix_seconds, utc_timestamp};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::journal::STATE_DIR;
use crate::cancel::Cancel;

/// How often a run that waits for the lock (`--wait`) tries again and checks for an
/// interruption.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Errors of the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "output directory {dir} is in use by another run ({holder}); wait for it or use --wait"
    )]
    Busy { dir: String, holder: String },
    #[error("interrupted while waiting for output directory {dir}")]
    Interrupted { dir: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A held lock; released when dropped (or when the process ends in any way).
pub struct OutputLock {
    _files: Vec<File>,
    path: PathBuf,
}

/// How a lock file is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exclusive,
    Shared,
}

impl OutputLock {
    /// Locks `output_root` for a run over all of it (`shard: None`) or over one shard.
    /// A whole run excludes every other run; shards of a run exclude the same shard and
    /// whole runs, but not each other (each holds the directory's lock shared and its
    /// shard's lock exclusively). Without `wait`, a held lock is an error naming its
    /// holders; with it, this waits until it is free or until `cancel` is set. (Polling
    /// rather than a blocking lock: a blocked `flock` sleeps through SIGINT/SIGTERM,
    /// whose handlers restart it, so a waiting run could not be stopped short of a
    /// second signal.)
    ///
    /// # Errors
    /// The lock is held and `wait` is false, the wait is interrupted, or a lock file
    /// cannot be used.
    pub fn acquire(
        output_root: &Path,
        shard: Option<(u32, u32)>,
        wait: bool,
        cancel: &Cancel,
    ) -> Result<Self, LockError> {
        let dir = output_root.join(STATE_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| LockError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let whole_path = dir.join(lock_name(None));
        let whole = open(&whole_path)?;
        let lock_or_refuse =
            |file: &File, path: &Path, mode: Mode, holder: &dyn Fn() -> String| match take(
                file, path, mode, wait, cancel,
            )? {
                Taken::Yes => Ok(()),
                Taken::Busy => Err(LockError::Busy {
                    dir: output_root.display().to_string(),
                    holder: holder(),
                }),
                Taken::Interrupted => Err(LockError::Interrupted {
                    dir: output_root.display().to_string(),
                }),
            };
        match shard {
            None => {
                lock_or_refuse(&whole, &whole_path, Mode::Exclusive, &|| {
                    whole_holders(&dir, &whole_path)
                })?;
                describe(&whole, &whole_path, "")?;
                Ok(Self {
                    _files: vec![whole],
                    path: whole_path,
                })
            }
            Some((index, count)) => {
                lock_or_refuse(&whole, &whole_path, Mode::Shared, &|| {
                    read_holder(&whole_path)
                })?;
                let own_path = dir.join(lock_name(shard));
                let own = loop {
                    let own = open(&own_path)?;
                    lock_or_refuse(&own, &own_path, Mode::Exclusive, &|| read_holder(&own_path))?;
                    // Shards of another split of the same files would overlap with this
                    // one. Each run checks after taking its own lock, so of two that
                    // start together at least one sees the other.
                    let others = held_shard_locks(&dir, |file_count| file_count != count);
                    if others.is_empty() {
                        break own;
                    }
                    if !wait {
                        return Err(LockError::Busy {
                            dir: output_root.display().to_string(),
                            holder: format!(
                                "{}; a run split {count} ways cannot share it with another split",
                                others.join("; ")
                            ),
                        });
                    }
                    drop(own);
                    if cancel.is_set() {
                        return Err(LockError::Interrupted {
                            dir: output_root.display().to_string(),
                        });
                    }
                    std::thread::sleep(WAIT_POLL);
                };
                describe(&own, &own_path, &format!(", shard {index}/{count}"))?;
                Ok(Self {
                    _files: vec![whole, own],
                    path: own_path,
                })
            }
        }
    }

    /// The lock file that names this run.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> Result<File, LockError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| LockError::Io {
            path: path.display().to_string(),
            source,
        })
}

/// What became of an attempt to take a lock.
enum Taken {
    Yes,
    /// Another run holds it and this one does not wait.
    Busy,
    /// The wait was cut short by a signal.
    Interrupted,
}

/// Takes `file`'s lock, waiting for it if `wait` until `cancel` is set.
fn take(
    file: &File,
    path: &Path,
    mode: Mode,
    wait: bool,
    cancel: &Cancel,
) -> Result<Taken, LockError> {
    let attempt = || match mode {
        Mode::Exclusive => file.try_lock(),
        Mode::Shared => file.try_lock_shared(),
    };
    let io = |source| LockError::Io {
        path: path.display().to_string(),
        source,
    };
    loop {
        match attempt() {
            Ok(()) => return Ok(Taken::Yes),
            Err(TryLockError::WouldBlock) if wait => {
                if cancel.is_set() {
                    return Ok(Taken::Interrupted);
                }
                std::thread::sleep(WAIT_POLL);
            }
            Err(TryLockError::WouldBlock) => return Ok(Taken::Busy),
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
}

/// Writes who holds an exclusive lock into its file.
fn describe(mut file: &File, path: &Path, what: &str) -> Result<(), LockError> {
    let io = |source| LockError::Io {
        path: path.display().to_string(),
        source,
    };
    let description = format!(
        "pid {}, started {}{what}",
        std::process::id(),
        humantime_now()
    );
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(description.as_bytes()).map_err(io)?;
    file.flush().map_err(io)
}

/// The holder a lock file names (best effort: it may be mid-write).
fn read_holder(path: &Path) -> String {
    let mut holder = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_string(&mut holder);
    }
    if holder.trim().is_empty() {
        "holder unknown".into()
    } else {
        holder.trim().to_string()
    }
}

/// Who keeps a whole run out: the running shards, each named by its own lock file, or
/// else the whole run that wrote the directory's lock file.
fn whole_holders(dir: &Path, whole_path: &Path) -> String {
    let shards = held_shard_locks(dir, |_| true);
    if shards.is_empty() {
        read_holder(whole_path)
    } else {
        shards.join("; ")
    }
}

/// The holders of the shard locks in `dir` that a running shard holds now, for shard
/// counts that `count_matches`.
fn held_shard_locks(dir: &Path, count_matches: impl Fn(u32) -> bool) -> Vec<String> {
    let mut holders: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .and_then(shard_count_of)
                .is_some_and(&count_matches)
        })
        .filter(|path| {
            // A shard's lock file outlives its run; only a held one names a holder.
            File::open(path)
                .is_ok_and(|file| matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock)))
        })
        .map(|path| read_holder(&path))
        .collect();
    holders.sort();
    holders
}

/// `N` of a shard lock file name `lock-I-of-N`.
fn shard_count_of(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("lock-")?;
    let (_, count) = rest.split_once("-of-")?;
    count.parse().ok()
}

/// The lock file name for a shard.
pub fn lock_name(shard: Option<(u32, u32)>) -> String {
    match shard {
        None => "lock".into(),
        Some((index, count)) => format!("lock-{index}-of-{count}"),
    }
}

/// The current time in UTC, as the lock file says when it was taken.
fn humantime_now() -> String {
    utc_timestamp(unix_seconds(std::time::SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::default();
        let held = OutputLock::acquire(dir.path(), None, false, &cancel).unwrap();
        let err = OutputLock::acquire(dir.path(), None, false, &cancel)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        OutputLock::acquire(dir.path(), None, false, &cancel).unwrap();
    }

    #[test]
    fn waiting_gives_up_when_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::default();
        let _held = OutputLock::acquire(dir.path(), None, false, &cancel).unwrap();
        cancel.set();
        let err = OutputLock::acquire(dir.path(), None, true, &cancel)
            .err()
            .unwrap();
        assert!(matches!(err, LockError::Interrupted { .. }), "{err}");
    }

    #[test]
    fn shards_lock_separately() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::default();
        let a = OutputLock::acquire(dir.path(), Some((1, 2)), false, &cancel).unwrap();
        let _b = OutputLock::acquire(dir.path(), Some((2, 2)), false, &cancel).unwrap();
        // The same shard twice is refused, naming the holder.
        let err = OutputLock::acquire(dir.path(), Some((1, 2)), false, &cancel)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("shard 1/2"), "{err}");
        // A whole run waits for every shard and names the running ones.
        let err = OutputLock::acquire(dir.path(), None, false, &cancel)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("shard 1/2") && err.contains("shard 2/2"),
            "{err}"
        );
        drop(a);
        let err = OutputLock::acquire(dir.path(), None, false, &cancel)
            .err()
            .unwrap()
            .to_string();
        assert!(
            !err.contains("shard 1/2") && err.contains("shard 2/2"),
            "{err}"
        );
    }

    #[test]
    fn shards_of_different_splits_keep_each_other_out() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::default();
        let _half = OutputLock::acquire(dir.path(), Some((1, 2)), false, &cancel).unwrap();
        let err = OutputLock::acquire(dir.path(), Some((1, 3)), false, &cancel)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("shard 1/2") && err.contains("split 3 ways"),
            "{err}"
        );
        // The refused run left nothing held: the same split still works.
        let _other_half = OutputLock::acquire(dir.path(), Some((2, 2)), false, &cancel).unwrap();
        assert_eq!(shard_count_of("lock-2-of-12"), Some(12));
        assert_eq!(shard_count_of("lock"), None);
    }

    #[test]
    fn a_whole_run_keeps_shards_out() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::default();
        let _whole = OutputLock::acquire(dir.path(), None, false, &cancel).unwrap();
        let err = OutputLock::acquire(dir.path(), Some((1, 3)), false, &cancel)
            .err()
            .unwrap();
        assert!(
            matches!(&err, LockError::Busy { holder, .. } if holder.contains(&format!("pid {}", std::process::id())) && !holder.contains("shard")),
            "{err}"
        );
    }
}
