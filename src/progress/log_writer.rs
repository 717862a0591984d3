//! Where log lines (warnings from any layer, through `tracing`) are written: straight to
//! stderr, or, while progress bars are drawn, above them, so that a warning is a clean
//! line and not padded into a bar.

use std::io::Write;
use std::sync::{Mutex, PoisonError};

use indicatif::MultiProgress;
use tracing_subscriber::fmt::MakeWriter;

/// The bars log lines must print above, while there are any.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

pub(super) fn show_above(bars: &MultiProgress) {
    *BARS.lock().unwrap_or_else(PoisonError::into_inner) = Some(bars.clone());
}

pub(super) fn show_plain() {
    *BARS.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// The log's writer, for `tracing_subscriber::fmt().with_writer(LogWriter)`.
pub struct LogWriter;

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

/// One log event, gathered whole and printed when dropped: a bar redrawn halfway
/// through a line would tear it.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let print = || {
            // Nowhere to report a failed write of the log itself.
            let _ = std::io::stderr().lock().write_all(&self.0);
        };
        let bars = BARS.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match bars {
            Some(bars) => bars.suspend(print),
            None => print(),
        }
    }
}
