//! Frame timing across the decode filter graph.
//!
//! A filter that makes or drops frames (`fps`, `yadif=mode=send_field`, `minterpolate`)
//! hands out frames at its own rate and in its own time base, yet in FFmpeg 5.1 each
//! keeps the duration of the source frame it came from, counted in the source's time
//! base; and `fps` fills frames up to where the input ends only when it is told where
//! that is. This owns both ends: where the decoded input ends, and how long each frame
//! out of the graph lasts.

use ffmpeg_next::{Rational, Rescale};

/// The timing of one video's frames on both sides of its decode graph.
#[derive(Debug, Clone, Copy)]
pub struct GraphTiming {
    source_time_base: Rational,
    source_rate: Rational,
    output_time_base: Rational,
    output_rate: Rational,
    /// One output frame in the output time base, when the graph changes the rate.
    output_frame: Option<i64>,
    /// Where the latest decoded frame ends, in the source's time base.
    input_end: Option<i64>,
}

impl GraphTiming {
    /// Frames enter in `source_time_base` at `source_rate` and leave in
    /// `output_time_base` at `output_rate` (`None`: the graph does not say, and the
    /// source's rate stands).
    pub fn new(
        (source_time_base, source_rate): (Rational, Rational),
        (output_time_base, output_rate): (Rational, Option<Rational>),
    ) -> Self {
        let output_rate = output_rate.unwrap_or(source_rate);
        let changed = !same_rate(source_rate, output_rate);
        let output_frame =
            changed.then(|| 1i64.rescale(output_rate.invert(), output_time_base).max(1));
        Self {
            source_time_base,
            source_rate,
            output_time_base,
            output_rate,
            output_frame,
            input_end: None,
        }
    }

    /// The rate of the frames the graph hands out.
    pub fn output_rate(&self) -> Rational {
        self.output_rate
    }

    /// How many frames the graph will hand out for `source_frames` decoded ones (0:
    /// not known).
    pub fn expected_frames(&self, source_frames: i64) -> i64 {
        if self.output_frame.is_none() || source_frames <= 0 {
            return source_frames;
        }
        source_frames.rescale(self.output_rate, self.source_rate)
    }

    /// A source timestamp on the output's timeline.
    pub fn to_output(&self, pts: i64) -> i64 {
        pts.rescale(self.source_time_base, self.output_time_base)
    }

    /// Notes a decoded frame at `pts` lasting `duration` (source time base; 0 when the
    /// source does not say, and then one frame at the source's rate is assumed), and
    /// returns the timestamp it enters the graph with: its own, or where the frame
    /// before it ended when it has none (the last frame of an MPEG-PS stream), since
    /// filters that place frames by their time (`fps`) drop a frame without one.
    pub fn decoded(&mut self, pts: Option<i64>, duration: i64) -> Option<i64> {
        let pts = pts.or(self.input_end)?;
        let duration = if duration > 0 {
            duration
        } else {
            1i64.rescale(self.source_rate.invert(), self.source_time_base)
                .max(1)
        };
        let end = pts.saturating_add(duration);
        self.input_end = Some(self.input_end.map_or(end, |e| e.max(end)));
        Some(pts)
    }

    /// Where the decoded input ends (source time base), for closing the graph's input.
    pub fn input_end(&self) -> Option<i64> {
        self.input_end
    }

    /// How long a frame out of the graph lasts, in the output time base, given the
    /// duration its source frame had (source time base, 0 when unknown): one output
    /// frame when the graph changes the rate, else the source's own.
    pub fn output_duration(&self, source_duration: i64) -> i64 {
        match self.output_frame {
            Some(frame) => frame,
            None if source_duration > 0 => self.to_output(source_duration),
            None => 0,
        }
    }
}

/// Whether two rates are equal as numbers (24/1 and 48/2 are).
fn same_rate(a: Rational, b: Rational) -> bool {
    i64::from(a.numerator()) * i64::from(b.denominator())
        == i64::from(b.numerator()) * i64::from(a.denominator())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(source: (i32, i32, i32), output: (i32, i32, Option<i32>)) -> GraphTiming {
        GraphTiming::new(
            (
                Rational::new(source.0, source.1),
                Rational::new(source.2, 1),
            ),
            (
                Rational::new(output.0, output.1),
                output.2.map(|r| Rational::new(r, 1)),
            ),
        )
    }

    #[test]
    fn a_rate_change_gives_every_frame_one_output_frame() {
        // `fps=25` from 12 fps Matroska: frames keep the source's 83 ms, in 1/1000.
        let up = timing((1, 1000, 12), (1, 25, Some(25)));
        assert_eq!(up.output_duration(83), 1);
        assert_eq!(up.output_duration(0), 1);
        assert_eq!(up.expected_frames(24), 50);
        assert_eq!(up.output_rate(), Rational::new(25, 1));
        // Field-rate deinterlacing of MPEG-PS: the time base halves, the rate doubles.
        let fields = timing((1, 90_000, 12), (1, 180_000, Some(24)));
        assert_eq!(fields.output_duration(7500), 7500);
        assert_eq!(fields.expected_frames(12), 24);
        let down = timing((1, 1000, 12), (1, 5, Some(5)));
        assert_eq!(down.output_duration(83), 1);
        assert_eq!(down.expected_frames(24), 10);
    }

    #[test]
    fn an_unchanged_rate_keeps_the_source_duration_in_the_output_time_base() {
        // `fps=12` on a 12 fps source changes only the time base.
        let retimed = timing((1, 1000, 12), (1, 12, Some(12)));
        assert_eq!(retimed.output_duration(83), 1);
        assert_eq!(retimed.expected_frames(24), 24);
        // A graph that states no rate (a variable-rate source) keeps the source's.
        let same = timing((1, 1000, 24), (1, 1000, None));
        assert_eq!(same.output_duration(42), 42);
        assert_eq!(same.output_duration(0), 0);
        assert_eq!(same.output_rate(), Rational::new(24, 1));
        assert_eq!(
            timing((1, 1000, 24), (1, 1000, Some(48))).expected_frames(0),
            0
        );
        // 48/2 is 24/1.
        let halves = GraphTiming::new(
            (Rational::new(1, 1000), Rational::new(24, 1)),
            (Rational::new(1, 1000), Some(Rational::new(48, 2))),
        );
        assert_eq!(halves.output_duration(42), 42);
    }

    #[test]
    fn the_input_ends_where_its_latest_frame_does() {
        let mut timing = timing((1, 1000, 12), (1, 25, Some(25)));
        assert_eq!(timing.input_end(), None);
        // Before any frame is placed, a frame without a time stays without one.
        assert_eq!(timing.decoded(None, 83), None);
        assert_eq!(timing.decoded(Some(1938), 83), Some(1938));
        assert_eq!(timing.input_end(), Some(2021));
        // A frame shown earlier (reordered) does not move the end back.
        timing.decoded(Some(1854), 83);
        assert_eq!(timing.input_end(), Some(2021));
        // A frame without a time follows the latest; one without a duration lasts a
        // frame at the source's rate.
        assert_eq!(timing.decoded(None, 0), Some(2021));
        assert_eq!(timing.input_end(), Some(2104));
        assert_eq!(timing.to_output(2021), 51);
    }
}
