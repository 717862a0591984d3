//! The writing end of a video's pipeline: results come back from the workers in any
//! order; the writer puts them back in frame order, places each on the output
//! timeline, and hands it to the sink (encoder and muxer, or a replay from an earlier
//! run's checkpoints) and to the caption sampler, while copied packets go straight to
//! the muxer.

use std::collections::BTreeMap;

use crossbeam_channel::{never, select, Receiver, Sender};
use ffmpeg_next::Packet;
use image::RgbImage;
use ndarray::Array3;

use crate::caption::sampler::Sampler;
use crate::media::decode::VideoInfo;
use crate::media::image_io::Colour;
use crate::media::MediaError;
use crate::report::thumbnail::Preview;
use crate::stage::caption::CaptionSetup;
use crate::stage::StageError;

use super::after_restore::AfterRestore;
use super::timing::Timing;
use super::video_sink::VideoSink;
use super::{FileProgress, ProcessError};

/// A frame back from the workers (or passed by, when an earlier run restored it).
pub(super) struct FrameResult {
    pub(super) index: u64,
    pub(super) pts: Option<i64>,
    pub(super) duration: i64,
    /// `None`: restored by an earlier run, whose checkpoint has it.
    pub(super) restored: Result<Option<Colour>, StageError>,
    /// The source frame, kept for the first frame only (the report's "before").
    pub(super) source: Option<Colour>,
    /// The source frame's A/53 closed captions, for the encoder.
    pub(super) closed_captions: Option<Vec<u8>>,
}

/// Where the restored frames are written: the sink, through the filters after
/// restoration when the pipeline has them.
pub(super) struct VideoEnd<'s> {
    pub(super) sink: VideoSink<'s>,
    pub(super) after: Option<AfterRestore>,
}

/// The caption sampler, the setup that prepares a sampled frame, and the way to the
/// captioner.
pub(super) type SamplerParts<'s> = (Sampler, &'s CaptionSetup, Sender<(f64, Array3<f32>)>);

/// Writes copied packets as they come and restored frames in their order, until both
/// the decoder and the workers are done.
pub(super) fn write_loop(
    mut writer: FrameWriter<'_, '_>,
    packets: Receiver<(usize, Packet)>,
    results: Receiver<FrameResult>,
    progress: &dyn FileProgress,
) -> Result<Written, ProcessError> {
    let mut packets = packets;
    let mut results = results;
    let (mut packets_open, mut results_open) = (true, true);
    while packets_open || results_open {
        select! {
            recv(packets) -> message => match message {
                Ok((stream, packet)) => writer.write_copied(stream, packet)?,
                Err(_) => { packets_open = false; packets = never(); }
            },
            recv(results) -> message => match message {
                Ok(result) => writer.take(result, progress)?,
                Err(_) => { results_open = false; results = never(); }
            },
        }
    }
    writer.finish()
}

/// What the writer saw of the frames.
pub(super) struct Written {
    /// Frames written (after the filters after restoration, when there are any).
    pub(super) frames: u64,
    /// Size of the frames written.
    pub(super) size: (u32, u32),
    pub(super) preview: Option<Preview>,
    /// Some frame came with closed captions.
    pub(super) closed_captions: bool,
    /// The presentation span of the frames, in seconds.
    pub(super) first_time: f64,
    pub(super) end_time: f64,
}

/// The writing end: puts results back in frame order, places them on the timeline, and
/// hands them to the sink (the encoder and muxer) and the caption sampler.
pub(super) struct FrameWriter<'s, 'c> {
    sink: Option<VideoSink<'s>>,
    after: Option<AfterRestore>,
    sampler: Option<SamplerParts<'c>>,
    timing: Timing,
    /// Seconds per tick of the frames' time base.
    tick: f64,
    /// Results that came back before an earlier frame's.
    reorder: BTreeMap<u64, FrameResult>,
    /// The index of the next frame to write.
    next: u64,
    size: (u32, u32),
    preview: Option<Preview>,
    /// The source's display rotation, which the preview shows applied.
    rotation: f64,
    closed_captions: bool,
    first_time: Option<f64>,
    end_time: f64,
}

impl<'s, 'c> FrameWriter<'s, 'c> {
    pub(super) fn new(
        end: Option<VideoEnd<'s>>,
        info: &VideoInfo,
        sampler: Option<SamplerParts<'c>>,
    ) -> Self {
        let (sink, after) = end.map_or((None, None), |end| (Some(end.sink), end.after));
        Self {
            sink,
            after,
            sampler,
            timing: Timing::new(info),
            tick: f64::from(info.time_base),
            reorder: BTreeMap::new(),
            next: 0,
            size: (0, 0),
            preview: None,
            rotation: info.display_rotation,
            closed_captions: false,
            first_time: None,
            end_time: info.end_time.unwrap_or(0.0),
        }
    }

    fn write_copied(&mut self, stream: usize, packet: Packet) -> Result<(), ProcessError> {
        match &mut self.sink {
            Some(sink) => sink.write_copied(stream, packet),
            None => Ok(()),
        }
    }

    /// Takes a result and writes every frame now due.
    fn take(
        &mut self,
        result: FrameResult,
        progress: &dyn FileProgress,
    ) -> Result<(), ProcessError> {
        self.reorder.insert(result.index, result);
        while let Some(result) = self.reorder.remove(&self.next) {
            self.write_frame(result)?;
            self.next += 1;
            progress.advance(1);
        }
        Ok(())
    }

    /// Writes frame `self.next`: encoded when restored by this run, replayed from the
    /// checkpoints when an earlier run restored it, sampled for captions either way.
    fn write_frame(&mut self, result: FrameResult) -> Result<(), ProcessError> {
        let restored = result.restored?;
        self.closed_captions |= result.closed_captions.is_some();
        match (result.source, &restored, &mut self.after) {
            // The report shows what the output holds: the first frame out of the filters.
            (Some(source), _, Some(after)) => after.keep_for_preview(source),
            (Some(source), Some(image), None) => {
                self.preview = Preview::new(&source.to_eight(), &image.to_eight(), self.rotation);
            }
            _ => {}
        }
        let pts = self.timing.place(result.pts, result.duration);
        let time = pts as f64 * self.tick;
        self.first_time.get_or_insert(time);
        let shown = result.duration.max(self.timing.nominal()) as f64 * self.tick;
        self.end_time = self.end_time.max(time + shown);
        let next = self.next;
        let resumed = self.sink.as_ref().is_some_and(|s| next < s.resume_from());
        match (&mut self.sink, restored) {
            (Some(sink), Some(image)) if !resumed => {
                self.size = image.dimensions();
                sample(&mut self.sampler, time, &image)?;
                let captions = result.closed_captions.as_deref();
                match &mut self.after {
                    Some(after) => after.encode(sink, (&image, captions), pts, result.duration)?,
                    None => sink.encode(next, (&image, captions), pts, &mut self.timing)?,
                }
            }
            (Some(sink), image) => {
                if let Some(image) = image {
                    self.size = image.dimensions();
                }
                sink.replay(next, self.size, &mut self.timing)?;
            }
            (None, Some(image)) => {
                self.size = image.dimensions();
                sample(&mut self.sampler, time, &image)?;
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Finishes the output once every frame is in.
    fn finish(mut self) -> Result<Written, ProcessError> {
        if !self.reorder.is_empty() {
            return Err(MediaError::Unsupported(format!(
                "frame {} never came back from inference",
                self.next
            ))
            .into());
        }
        let (frames, size) = match (self.sink, self.after) {
            (Some(sink), Some(after)) => {
                let written = after.finish(sink, self.rotation)?;
                self.preview = written.preview;
                (written.frames, written.size)
            }
            (Some(sink), None) => {
                sink.finish(&mut self.timing)?;
                (self.next, self.size)
            }
            (None, _) => (self.next, self.size),
        };
        Ok(Written {
            frames,
            size,
            preview: self.preview,
            closed_captions: self.closed_captions,
            first_time: self.first_time.unwrap_or(0.0),
            end_time: self.end_time,
        })
    }
}

/// Hands a restored frame to the caption sampler, when the pipeline captions.
fn sample(
    sampler: &mut Option<SamplerParts<'_>>,
    time: f64,
    image: &Colour,
) -> Result<(), ProcessError> {
    if let Some((sampler, setup, sink)) = sampler {
        let image = image.to_eight();
        let image: &RgbImage = &image;
        if sampler.take(time, image) && sink.send((time, setup.prepare(image))).is_err() {
            // The captioner stopped; its error is reported when it is joined.
            return Err(MediaError::Unsupported("captioning stopped".into()).into());
        }
    }
    Ok(())
}
