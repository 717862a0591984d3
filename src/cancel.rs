//! Two-step interruption: the first SIGINT/SIGTERM asks the run to stop (no new files,
//! running videos stop at the next frame, temporaries are removed, the report is
//! written, exit 130); the second ends the process at once with 130, after removing
//! the temporaries being written and saying so. Either way the next run resumes from
//! the journal.
//!
//! Signals are taken by a thread of their own rather than in a signal handler, so the
//! second one can remove files and print a line, which a handler could not do safely.
//!
//! SIGXFSZ (a write past `ulimit -f`) is caught here too, so that such a write fails
//! with EFBIG and only its file fails, instead of the signal killing the whole run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM, SIGXFSZ};
use signal_hook::iterator::Signals;

use crate::temporaries::remove_all_then;

/// Exit code of an interrupted run.
pub const INTERRUPTED: i32 = 130;

/// The shared "stop" flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Installs the signal handling and returns the flag the first signal sets.
    ///
    /// # Errors
    /// The handlers cannot be registered or their thread cannot start.
    pub fn install() -> std::io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let stop = Arc::clone(&flag);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    if stop.swap(true, Ordering::SeqCst) {
                        remove_all_then(abort);
                    }
                }
            })?;
        // A write past the file-size limit (`ulimit -f`) raises SIGXFSZ, whose default
        // action kills the process with every file in flight. Caught, the write fails
        // with EFBIG instead, and only the file being written fails.
        signal_hook::flag::register(SIGXFSZ, Arc::new(AtomicBool::new(false)))?;
        Ok(Self(flag))
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Asks for a stop (tests and internal errors).
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Ends the process after a second signal, saying which unfinished outputs were removed.
fn abort(removed: &[PathBuf]) -> std::convert::Infallible {
    eprintln!("{}", abort_line(removed));
    std::process::exit(INTERRUPTED)
}

/// The line a second signal prints.
fn abort_line(removed: &[PathBuf]) -> String {
    let removed: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
    let what = match removed.len() {
        0 => String::new(),
        1 => format!(", removed the unfinished {}", removed[0]),
        _ => format!(", removed the unfinished {}", removed.join(", ")),
    };
    format!("interrupted again: stopped at once{what}; a rerun resumes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_abort_line_names_what_was_removed() {
        assert_eq!(
            abort_line(&[]),
            "interrupted again: stopped at once; a rerun resumes"
        );
        assert_eq!(
            abort_line(&[PathBuf::from("out/.a.mkv.frameforge-tmp.mkv")]),
            "interrupted again: stopped at once, removed the unfinished \
             out/.a.mkv.frameforge-tmp.mkv; a rerun resumes"
        );
    }
}
