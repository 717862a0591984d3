//! Timestamps and durations of restored frames as they are encoded: each frame keeps its
//! source timestamp, and each packet gets the duration its frame had (the next frame's
//! timestamp minus its own, or the source's own duration for the last one), so variable
//! frame rates and the total length survive.

use std::collections::HashMap;

use ffmpeg_next::Rational;

use crate::media::decode::VideoInfo;

/// Timestamps and durations of the frames as they are encoded.
pub struct Timing {
    nominal: i64,
    last_pts: Option<i64>,
    durations: HashMap<i64, i64>,
}

impl Timing {
    pub fn new(info: &VideoInfo) -> Self {
        // One frame at the nominal rate, in the frames' time base.
        let nominal = Rational::new(
            info.frame_rate.denominator(),
            info.frame_rate.numerator().max(1),
        );
        let per_frame = (f64::from(nominal) / f64::from(info.time_base)).round() as i64;
        Self {
            nominal: per_frame.max(1),
            last_pts: None,
            durations: HashMap::new(),
        }
    }

    /// The timestamp to encode a frame with, recording how long the previous one lasts.
    pub fn place(&mut self, pts: Option<i64>, source_duration: i64) -> i64 {
        let pts = pts.unwrap_or_else(|| self.last_pts.map_or(0, |p| p + self.nominal));
        if let Some(previous) = self.last_pts {
            self.durations.entry(previous).or_insert(pts - previous);
        }
        if source_duration > 0 {
            self.durations.insert(pts, source_duration);
        }
        self.last_pts = Some(pts);
        pts
    }

    /// One frame at the nominal rate, in the frames' time base.
    pub fn nominal(&self) -> i64 {
        self.nominal
    }

    pub fn duration_of(&mut self, pts: Option<i64>) -> i64 {
        pts.and_then(|p| self.durations.remove(&p))
            .unwrap_or(self.nominal)
    }
}
