//! The output-directory lock: one run per output directory (and shard) at a time, so two
//! cron runs never process the same files. The lock is an OS file lock, which the kernel
//! drops when its process dies, so a crashed run never leaves a lock that blocks the next.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cancel::Cancel;
use super::journal::STATE_DIR;

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
    _file: File,
    path: PathBuf,
}

impl OutputLock {
    /// Takes the lock `name` in `output_root`'s state directory. Without `wait`, a held
    /// lock is an error naming its holder; with it, this waits until it is free or until
    /// `cancel` is set. (Polling rather than a blocking lock: a blocked `flock` sleeps
    /// through SIGINT/SIGTERM, whose handlers restart it, so a waiting run could not be
    /// stopped short of a second signal.)
    ///
    /// # Errors
    /// The lock is held and `wait` is false, the wait is interrupted, or the lock file
    /// cannot be used.
    pub fn acquire(
        output_root: &Path,
        name: &str,
        wait: bool,
        cancel: &Cancel,
    ) -> Result<Self, LockError> {
        let dir = output_root.join(STATE_DIR);
        let path = dir.join(name);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if wait => loop {
                if cancel.is_set() {
                    return Err(LockError::Interrupted {
                        dir: output_root.display().to_string(),
                    });
                }
                std::thread::sleep(WAIT_POLL);
                match file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) => {}
                    Err(TryLockError::Error(e)) => return Err(io(e)),
                }
            },
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // The holder's description is best effort: it may be mid-write.
                let _ = file.read_to_string(&mut holder);
                return Err(LockError::Busy {
                    dir: output_root.display().to_string(),
                    holder: if holder.trim().is_empty() {
                        "holder unknown".into()
                    } else {
                        holder.trim().to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let description = format!("pid {}, started {}", std::process::id(), humantime_now());
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(description.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file name for a shard.
pub fn lock_name(shard: Option<(u32, u32)>) -> String {
    match shard {
        None => "lock".into(),
        Some((index, count)) => format!("lock-{index}-of-{count}"),
    }
}

/// The current time as seconds since the epoch and UTC calendar time, without pulling
/// in a date crate for one line of a lock file.
fn humantime_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let (hour, minute, second) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or_default());
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::default();
        let held = OutputLock::acquire(dir.path(), &lock_name(None), false, &cancel).unwrap();
        let err = OutputLock::acquire(dir.path(), &lock_name(None), false, &cancel)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        OutputLock::acquire(dir.path(), &lock_name(None), false, &cancel).unwrap();
    }

    #[test]
    fn waiting_gives_up_when_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::default();
        let _held = OutputLock::acquire(dir.path(), &lock_name(None), false, &cancel).unwrap();
        cancel.set();
        let err = OutputLock::acquire(dir.path(), &lock_name(None), true, &cancel)
            .err()
            .unwrap();
        assert!(matches!(err, LockError::Interrupted { .. }), "{err}");
    }

    #[test]
    fn shards_lock_separately() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::default();
        let _a = OutputLock::acquire(dir.path(), &lock_name(Some((1, 2))), false, &cancel).unwrap();
        let _b = OutputLock::acquire(dir.path(), &lock_name(Some((2, 2))), false, &cancel).unwrap();
    }

    #[test]
    fn dates_are_computed_correctly() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
    }
}
