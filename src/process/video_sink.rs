//! The encoding side of a video: restored frames go through the encoder into the output
//! container, and, for a checkpointed video, segment by segment into its checkpoint
//! store too.
//!
//! A checkpointed video is encoded by one encoder per segment (each segment starts with
//! a keyframe), so the packets of a segment finished by an earlier run can take the
//! place of its frames: they are copied into the output as the decoder passes those
//! frames, and only the frames after them are restored and encoded again. Every encoder
//! gets the same settings and so writes the same stream headers; that is checked, not
//! assumed.

use std::collections::VecDeque;

use crate::media::image_io::Colour;
use ffmpeg_next::{codec, Packet, Rational, Rescale};

use crate::media::decode::VideoInfo;
use crate::media::encode::{stream_headers, EncodeSettings, VideoEncoder};
use crate::media::mux::Muxer;
use crate::media::MediaError;

use super::checkpoints::{Checkpoints, Segment, StoredPacket};
use super::timing::Timing;
use super::ProcessError;

/// Checkpointing of one video.
pub struct CheckpointPlan {
    pub checkpoints: Checkpoints,
    /// Length of a segment in the frames' time base: a frame this far or further after
    /// the segment's first frame starts the next one.
    pub segment_length: i64,
    /// Segments finished by earlier runs, from frame 0 on.
    pub done: Vec<Segment>,
}

/// Encoded video on its way into the output.
pub struct VideoSink<'a> {
    muxer: Muxer,
    info: VideoInfo,
    settings: &'a EncodeSettings,
    checkpoints: Option<Checkpoints>,
    segment_length: i64,
    /// Finished segments still to be copied, in order.
    done: VecDeque<Segment>,
    /// Frames before this index are in `done`'s segments.
    resume_from: u64,
    current: Option<OpenSegment>,
    /// The last video decode timestamp written, which the next must exceed.
    last_dts: Option<i64>,
    encoded: Vec<Packet>,
}

/// The segment being encoded.
struct OpenSegment {
    count: u64,
    start_pts: i64,
    encoder: VideoEncoder,
    headers: Vec<u8>,
}

impl<'a> VideoSink<'a> {
    pub fn new(
        muxer: Muxer,
        info: VideoInfo,
        settings: &'a EncodeSettings,
        plan: Option<CheckpointPlan>,
    ) -> Self {
        let (checkpoints, segment_length, done) = match plan {
            Some(plan) => (
                Some(plan.checkpoints),
                plan.segment_length.max(1),
                plan.done.into(),
            ),
            None => (None, i64::MAX, VecDeque::new()),
        };
        let resume_from = done.back().map_or(0, Segment::end);
        Self {
            muxer,
            info,
            settings,
            checkpoints,
            segment_length,
            resume_from,
            done,
            current: None,
            last_dts: None,
            encoded: Vec::new(),
        }
    }

    /// Frames before this index are copied from an earlier run's segments.
    pub fn resume_from(&self) -> u64 {
        self.resume_from
    }

    /// Writes a packet of a copied (audio, subtitle) stream.
    ///
    /// # Errors
    /// The container refuses it.
    pub fn write_copied(&mut self, stream: usize, packet: Packet) -> Result<(), ProcessError> {
        Ok(self.muxer.write_copied(stream, packet)?)
    }

    /// Frame `index`, whose packets are in a segment of an earlier run, has been placed
    /// on the timeline: once it is the segment's last frame, the segment is copied.
    /// `size` is the restored frame size (frame 0 is always restored).
    ///
    /// # Errors
    /// The segment cannot be read, or does not fit the output.
    pub fn replay(
        &mut self,
        index: u64,
        size: (u32, u32),
        timing: &mut Timing,
    ) -> Result<(), ProcessError> {
        if self.done.front().is_none_or(|s| index + 1 != s.end()) {
            return Ok(());
        }
        let Some(segment) = self.done.pop_front() else {
            return Ok(());
        };
        let copied = self.copy_segment(&segment, size, timing);
        if copied.is_err() {
            // A segment that cannot be used now never will be: start over next time.
            self.discard_checkpoints();
        }
        copied
    }

    fn copy_segment(
        &mut self,
        segment: &Segment,
        size: (u32, u32),
        timing: &mut Timing,
    ) -> Result<(), ProcessError> {
        if !self.muxer.is_started() {
            // The stream's parameters are those of an encoder with the same settings;
            // `join` checks that the segment's encoder had the same headers.
            let encoder = VideoEncoder::open(
                self.settings,
                &self.info,
                size,
                self.muxer.wants_global_header(),
            )?;
            self.muxer.start_with(
                encoder.parameters(),
                self.info.time_base,
                self.info.frame_rate,
            )?;
        }
        self.join(&segment.headers)?;
        let stored_base = Rational::new(segment.time_base.0, segment.time_base.1);
        let time_base = self.info.time_base;
        let Some(checkpoints) = self.checkpoints.take() else {
            return Ok(());
        };
        let copied = checkpoints.for_each_packet(segment.first, |stored: StoredPacket| {
            let mut packet = Packet::copy(&stored.data);
            packet.set_pts(stored.pts.map(|t| t.rescale(stored_base, time_base)));
            packet.set_dts(stored.dts.map(|t| t.rescale(stored_base, time_base)));
            packet.set_flags(codec::packet::Flags::from_bits_truncate(stored.flags));
            self.write_output(packet, timing)
        });
        self.checkpoints = Some(checkpoints);
        if copied? != segment.count {
            return Err(MediaError::Unsupported(format!(
                "a checkpoint segment (frames {}..{}) is incomplete; the segments were \
                 removed and the next run restores this video from its start",
                segment.first,
                segment.end()
            ))
            .into());
        }
        Ok(())
    }

    /// Encodes restored frame `index` and its closed captions with its presentation
    /// timestamp `pts`.
    ///
    /// # Errors
    /// Encoding or writing fails.
    pub fn encode(
        &mut self,
        index: u64,
        (image, closed_captions): (&Colour, Option<&[u8]>),
        pts: i64,
        timing: &mut Timing,
    ) -> Result<(), ProcessError> {
        if self
            .current
            .as_ref()
            .is_some_and(|s| pts.saturating_sub(s.start_pts) >= self.segment_length)
        {
            self.close_segment(timing)?;
        }
        if self.current.is_none() {
            self.current = Some(self.open_segment(index, pts, image.dimensions())?);
        }
        if let Some(segment) = &mut self.current {
            segment
                .encoder
                .push(image, Some(pts), closed_captions, &mut self.encoded)?;
            segment.count += 1;
        }
        self.drain(timing)
    }

    /// Flushes the encoder and completes the output container.
    ///
    /// # Errors
    /// Encoding or writing fails.
    pub fn finish(mut self, timing: &mut Timing) -> Result<(), ProcessError> {
        if let Some(segment) = self.done.front() {
            // The source gave fewer frames than the earlier run that made the segments.
            let message = format!(
                "the video ended before frame {}, where its checkpoints end; the segments \
                 were removed and the next run restores this video from its start",
                segment.end()
            );
            self.discard_checkpoints();
            return Err(MediaError::Unsupported(message).into());
        }
        self.close_segment(timing)?;
        Ok(self.muxer.finish()?)
    }

    fn open_segment(
        &mut self,
        first: u64,
        start_pts: i64,
        size: (u32, u32),
    ) -> Result<OpenSegment, ProcessError> {
        let encoder = VideoEncoder::open(
            self.settings,
            &self.info,
            size,
            self.muxer.wants_global_header(),
        )?;
        let parameters = encoder.parameters();
        let headers = stream_headers(&parameters);
        if self.muxer.is_started() {
            self.join(&headers)?;
        } else {
            self.muxer
                .start_with(parameters, self.info.time_base, self.info.frame_rate)?;
        }
        if let Some(checkpoints) = &mut self.checkpoints {
            checkpoints.begin_segment(first)?;
        }
        Ok(OpenSegment {
            count: 0,
            start_pts,
            encoder,
            headers,
        })
    }

    /// Checks that packets of an encoder with stream `headers` can continue the output.
    fn join(&mut self, headers: &[u8]) -> Result<(), ProcessError> {
        if self.muxer.continues_video(headers) {
            return Ok(());
        }
        // Segments of an earlier run made with other encoder headers (another ffmpeg
        // build, say) cannot be joined; the next run starts from the first frame.
        self.discard_checkpoints();
        Err(MediaError::Unsupported(
            "the encoder's stream headers differ from those of the segments an earlier run \
             wrote, so they cannot be joined; the segments were removed and the next run \
             restores this video from its start"
                .into(),
        )
        .into())
    }

    /// Drops this video's checkpoints, so its next run starts from the first frame:
    /// what they hold cannot be used. Removing them is best effort; a store left behind
    /// fails the same way next time and is removed then.
    fn discard_checkpoints(&mut self) {
        if let Some(checkpoints) = self.checkpoints.take() {
            let _ = checkpoints.discard();
        }
    }

    fn close_segment(&mut self, timing: &mut Timing) -> Result<(), ProcessError> {
        let Some(mut segment) = self.current.take() else {
            return Ok(());
        };
        segment.encoder.finish(&mut self.encoded)?;
        let pending = std::mem::take(&mut self.encoded);
        for packet in pending {
            self.store(&packet)?;
            self.write_output(packet, timing)?;
        }
        if let Some(checkpoints) = &mut self.checkpoints {
            let time_base = self.info.time_base;
            checkpoints.commit_segment(
                segment.count,
                &segment.headers,
                (time_base.numerator(), time_base.denominator()),
            )?;
        }
        Ok(())
    }

    /// Writes the packets the encoder has given so far.
    fn drain(&mut self, timing: &mut Timing) -> Result<(), ProcessError> {
        let pending = std::mem::take(&mut self.encoded);
        for packet in pending {
            self.write(packet, timing)?;
        }
        Ok(())
    }

    /// Writes a packet of the current segment to its checkpoint and the output.
    fn write(&mut self, packet: Packet, timing: &mut Timing) -> Result<(), ProcessError> {
        self.store(&packet)?;
        self.write_output(packet, timing)
    }

    /// Keeps a packet of the current segment in the checkpoints.
    fn store(&mut self, packet: &Packet) -> Result<(), ProcessError> {
        let Some(checkpoints) = &mut self.checkpoints else {
            return Ok(());
        };
        checkpoints
            .add_packet(
                packet.pts(),
                packet.dts(),
                packet.flags().bits(),
                packet.data().unwrap_or_default(),
            )
            .map_err(ProcessError::from)
    }

    fn write_output(
        &mut self,
        mut packet: Packet,
        timing: &mut Timing,
    ) -> Result<(), ProcessError> {
        packet.set_duration(timing.duration_of(packet.pts()));
        // Where one segment's encoder hands over to the next, the new one's first
        // decode timestamps, derived from its own frame spacing, may not pass the last
        // one's; moving them up keeps the stream valid and changes no presentation time.
        if let (Some(last), Some(dts)) = (self.last_dts, packet.dts()) {
            if dts <= last && packet.pts().is_none_or(|pts| last < pts) {
                packet.set_dts(Some(last + 1));
            }
        }
        self.last_dts = packet.dts().or(self.last_dts);
        Ok(self.muxer.write_video(packet)?)
    }
}
