//! The filters after restoration, in a video's writer: restored frames go through the
//! chain in order, and what it hands out (at its size, rate and time base) is placed on
//! the output's timeline and encoded.

use crate::media::image_io::Colour;
use crate::media::post_filter::{FilteredFrame, PostFilter};
use crate::report::thumbnail::Preview;

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
    /// The first source frame, and the first frame out of the chain: the report's
    /// "before" and "after".
    source: Option<Colour>,
    first: Option<Colour>,
}

/// What the chain handed to the encoder.
pub(super) struct AfterWritten {
    pub(super) frames: u64,
    pub(super) size: (u32, u32),
    pub(super) preview: Option<Preview>,
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
            source: None,
            first: None,
        }
    }

    /// Keeps the first source frame, for the report's before-and-after picture.
    pub(super) fn keep_for_preview(&mut self, source: Colour) {
        self.source.get_or_insert(source);
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
    /// frames were encoded, their size and the report's picture (shown turned by
    /// `rotation`).
    ///
    /// # Errors
    /// A filter, the encoder or the container fails.
    pub(super) fn finish(
        mut self,
        mut sink: VideoSink<'_>,
        rotation: f64,
    ) -> Result<AfterWritten, ProcessError> {
        self.filter.finish(&mut self.ready)?;
        self.encode_ready(&mut sink)?;
        sink.finish(&mut self.timing)?;
        let preview = match (&self.source, &self.first) {
            (Some(source), Some(first)) => {
                Preview::new(&source.to_eight(), &first.to_eight(), rotation)
            }
            _ => None,
        };
        Ok(AfterWritten {
            frames: self.frames,
            size: self.size,
            preview,
        })
    }

    fn encode_ready(&mut self, sink: &mut VideoSink<'_>) -> Result<(), ProcessError> {
        for frame in std::mem::take(&mut self.ready) {
            let pts = self.timing.place(frame.pts, frame.duration);
            self.size = frame.image.dimensions();
            if self.first.is_none() {
                self.first = Some(frame.image.clone());
            }
            let captions = frame.closed_captions.as_deref();
            sink.encode(self.frames, (&frame.image, captions), pts, &mut self.timing)?;
            self.frames += 1;
        }
        Ok(())
    }
}
