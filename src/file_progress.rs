//! How a running file reports how far it got, to whatever shows it (a terminal bar, a
//! log line, nothing). A leaf module, so that processing does not depend on the code that
//! draws progress.

/// Where a running file reports how far it got.
pub trait FileProgress: Sync {
    /// The number of frames expected (0 when unknown).
    fn length(&self, frames: u64);
    /// `frames` more frames are written.
    fn advance(&self, frames: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl FileProgress for NoProgress {
    fn length(&self, _frames: u64) {}
    fn advance(&self, _frames: u64) {}
}
