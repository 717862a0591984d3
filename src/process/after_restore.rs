//! The filters after restoration, in a video's writer: restored frames go through the
//! chain in order, and what it hands out (at its size, rate and time base) is placed on
//! the output's timeline and encoded.

use crate::media::image_io::Colour;
use crate::media::post_filter::{FilteredFrame, PostFilter};

use super::timing::Timing;
use super::video_sink::VideoSink;
use super::ProcessError;

/// The chain after restoration and what it has handed to the encoder.
pub(super) struct AfterRestore {
    filter: PostFilter,
    /// The output's timeline (the chain's time base and rate).
    timing: Timing,
    frames: u64,
    size: (u32, u32),
    ready: Vec<FilteredFrame>,
}

impl AfterRestore {
    pub(super) fn new(filter: PostFilter) -> Self {
        let timing = Timing::new(filter.output());
        Self {
            filter,
            timing,
            frames: 0,
            size: (0, 0),
            ready: Vec::new(),
        }
    }

    /// Filters restored frame `image` at `pts` lasting `duration` (the restored frames'
    /// time base) and encodes what the chain hands out.
    ///
    /// # Errors
    /// A filter, the encoder or the container fails.
    pub(super) fn encode(
        &mut self,
        sink: &mut VideoSink<'_>,
        frame: (&Colour, Option<&[u8]>),
        pts: i64,
        duration: i64,
    ) -> Result<(), ProcessError> {
        self.filter
            .push(frame, Some(pts), duration, &mut self.ready)?;
        self.encode_ready(sink)
    }

    /// Drains the chain into the encoder and completes the output; returns how many
    /// frames were encoded and their size.
    ///
    /// # Errors
    /// A filter, the encoder or the container fails.
    pub(super) fn finish(
        mut self,
        mut sink: VideoSink<'_>,
    ) -> Result<(u64, (u32, u32)), ProcessError> {
        self.filter.finish(&mut self.ready)?;
        self.encode_ready(&mut sink)?;
        sink.finish(&mut self.timing)?;
        Ok((self.frames, self.size))
    }

    fn encode_ready(&mut self, sink: &mut VideoSink<'_>) -> Result<(), ProcessError> {
        for frame in std::mem::take(&mut self.ready) {
            let pts = self.timing.place(frame.pts, frame.duration);
            self.size = frame.image.dimensions();
            let captions = frame.closed_captions.as_deref();
            sink.encode(self.frames, (&frame.image, captions), pts, &mut self.timing)?;
            self.frames += 1;
        }
        Ok(())
    }
}
