//! How a running file reports how far it got, to whatever shows it (a terminal bar, a
//! log line, nothing). A leaf module, so that processing does not depend on the code that
//! draws progress.

/// How many frames a file will give, as far as is known before it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameTotal {
    /// The container states the number.
    Known(u64),
    /// Worked out from the stated duration and frame rate, as ffmpeg's own progress
    /// does; shown as an estimate.
    Estimated(u64),
    /// Neither a count nor a duration is stated.
    Unknown,
}

impl FrameTotal {
    /// The container's count when it states one, else duration × rate when both are
    /// stated and sensible.
    pub fn from_stated(count: i64, seconds: Option<f64>, frames_per_second: f64) -> Self {
        if let Ok(count) = u64::try_from(count) {
            if count > 0 {
                return Self::Known(count);
            }
        }
        match seconds {
            Some(seconds) if seconds > 0.0 && frames_per_second > 0.0 => {
                let frames = (seconds * frames_per_second).round();
                if frames >= 1.0 && frames < u64::MAX as f64 {
                    // In range: checked just above.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    return Self::Estimated(frames as u64);
                }
                Self::Unknown
            }
            _ => Self::Unknown,
        }
    }
}

/// `h:mm:ss`, as the resume line and the plain progress line print times.
pub fn clock(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs();
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Where a running file reports how far it got.
pub trait FileProgress: Sync {
    /// The number of frames expected.
    fn length(&self, total: FrameTotal);
    /// `frames` more frames are written.
    fn advance(&self, frames: u64);
    /// Something the user should know about this file as it starts (it resumes, say).
    fn note(&self, text: &str);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl FileProgress for NoProgress {
    fn length(&self, _total: FrameTotal) {}
    fn advance(&self, _frames: u64) {}
    fn note(&self, _text: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stated_count_wins_over_the_duration() {
        assert_eq!(
            FrameTotal::from_stated(48, Some(10.0), 25.0),
            FrameTotal::Known(48)
        );
    }

    #[test]
    fn without_a_count_the_duration_and_rate_give_an_estimate() {
        assert_eq!(
            FrameTotal::from_stated(0, Some(2.0), 12.5),
            FrameTotal::Estimated(25)
        );
        assert_eq!(
            FrameTotal::from_stated(0, Some(1.001), 29.97),
            FrameTotal::Estimated(30)
        );
    }

    #[test]
    fn without_a_count_or_a_duration_the_total_is_unknown() {
        assert_eq!(FrameTotal::from_stated(0, None, 25.0), FrameTotal::Unknown);
        assert_eq!(
            FrameTotal::from_stated(-1, Some(3.0), 0.0),
            FrameTotal::Unknown
        );
        assert_eq!(
            FrameTotal::from_stated(0, Some(f64::NAN), 25.0),
            FrameTotal::Unknown
        );
    }
}
