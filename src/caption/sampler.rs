//! Choosing which frames of a video to caption: at a fixed interval (`every`), or at
//! shot changes (`scene_threshold`) measured on small colour versions of every frame,
//! never closer than `min_gap` and never further apart than `max_gap`.

use image::RgbImage;

/// Side of the thumbnails compared for shot changes.
const THUMB_WIDTH: u32 = 32;
const THUMB_HEIGHT: u32 = 18;

/// How frames are picked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplingMode {
    Every(f64),
    Scene {
        threshold: f32,
        min_gap: f64,
        max_gap: f64,
    },
}

/// Decides frame by frame whether to caption.
pub struct Sampler {
    mode: SamplingMode,
    last_sample: Option<f64>,
    previous: Option<RgbImage>,
}

impl Sampler {
    pub fn new(mode: SamplingMode) -> Self {
        Self {
            mode,
            last_sample: None,
            previous: None,
        }
    }

    /// Whether the frame shown at `time` seconds is captioned. The first frame always is.
    pub fn take(&mut self, time: f64, frame: &RgbImage) -> bool {
        let gap = self.last_sample.map(|t| time - t);
        let take = match (self.mode, gap) {
            (_, None) => true,
            // A millisecond of slack: frame times are rounded to the stream's time base.
            (SamplingMode::Every(interval), Some(gap)) => gap + 1e-3 >= interval,
            (
                SamplingMode::Scene {
                    threshold,
                    min_gap,
                    max_gap,
                },
                Some(gap),
            ) => {
                let thumb = thumbnail(frame);
                let changed = self
                    .previous
                    .as_ref()
                    .is_some_and(|p| scene_score(p, &thumb) >= threshold);
                self.previous = Some(thumb);
                (changed && gap >= min_gap) || gap >= max_gap
            }
        };
        if matches!(self.mode, SamplingMode::Scene { .. }) && gap.is_none() {
            self.previous = Some(thumbnail(frame));
        }
        if take {
            self.last_sample = Some(time);
        }
        take
    }
}

/// Area average: every source pixel counts once, and it is a single cheap pass.
fn thumbnail(frame: &RgbImage) -> RgbImage {
    image::imageops::thumbnail(frame, THUMB_WIDTH, THUMB_HEIGHT)
}

/// Mean absolute difference of two thumbnails over every colour sample, 0 (same) to 1
/// (black vs white). Colour, not luma: a cut between two scenes of equal brightness
/// but different colours is still a cut.
pub fn scene_score(a: &RgbImage, b: &RgbImage) -> f32 {
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f32 / (a.as_raw().len().max(1) as f32 * 255.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(v: u8) -> RgbImage {
        RgbImage::from_pixel(64, 36, image::Rgb([v, v, v]))
    }

    #[test]
    fn every_samples_at_the_interval() {
        let mut s = Sampler::new(SamplingMode::Every(2.0));
        let taken: Vec<f64> = (0..25)
            .map(|i| f64::from(i) * 0.25)
            .filter(|t| s.take(*t, &flat(0)))
            .collect();
        assert_eq!(taken, vec![0.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn scene_changes_are_taken_within_the_gaps() {
        let mut s = Sampler::new(SamplingMode::Scene {
            threshold: 0.3,
            min_gap: 0.5,
            max_gap: 5.0,
        });
        let frames = [
            (0.0, 0),
            (0.25, 0),
            (0.3, 255),
            (1.0, 0),
            (2.0, 0),
            (7.5, 0),
        ];
        let taken: Vec<f64> = frames
            .iter()
            .filter(|(t, v)| s.take(*t, &flat(*v)))
            .map(|(t, _)| *t)
            .collect();
        // 0.3: a cut, but only 0.3 s after the last sample; 1.0: cut back, taken;
        // 7.5: no cut, but 6.5 s since the last sample.
        assert_eq!(taken, vec![0.0, 1.0, 7.5]);
    }
}
