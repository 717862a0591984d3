//! Two-step interruption: the first SIGINT/SIGTERM asks the run to stop (no new files,
//! running videos stop at the next frame, temporaries are removed, the report is
//! written, exit 130); the second ends the process at once with 130. Either way the next
//! run resumes from the journal.
//!
//! SIGXFSZ (a write past `ulimit -f`) is caught here too, so that such a write fails
//! with EFBIG and only its file fails, instead of the signal killing the whole run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM, SIGXFSZ};

/// Exit code of an interrupted run.
pub const INTERRUPTED: i32 = 130;

/// The shared "stop" flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Installs the signal handlers and returns the flag they set.
    ///
    /// # Errors
    /// The handlers cannot be registered.
    pub fn install() -> std::io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // Order matters: the exit check must see the flag before this signal sets it.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                INTERRUPTED,
                Arc::clone(&flag),
            )?;
            signal_hook::flag::register(signal, Arc::clone(&flag))?;
        }
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
