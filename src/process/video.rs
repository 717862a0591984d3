//! Restoring one video as a bounded pipeline:
//!
//! ```text
//! decode thread ──frames──▶ workers (borrow pool instances) ──results──▶ reorder ─▶ encode + mux
//!        └────────────────── copied audio/subtitle packets ───────────────────────▶ mux
//! ```
//!
//! Bounded channels give backpressure, so memory stays flat however long the video is.
//! Inference runs on instances borrowed from the shared [`StagePool`], which bounds the
//! CPU use of all files together. Every frame keeps its source timestamp, so variable
//! frame rates survive, and copied streams keep theirs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crossbeam_channel::{bounded, never, select, Receiver, Sender};
use ffmpeg_next::Packet;
use image::RgbImage;
use ndarray::Array3;

use super::caption_files::{caption_base, write_video_captions};
use crate::caption::cues::{cues_from_samples, Cue, Sample};
use crate::caption::sampler::{Sampler, SamplingMode};
use crate::media::subtitle_mux::{add_caption_track, TimedText};
use crate::stage::caption::{CaptionPool, CaptionSetup};

use crate::cancel::Cancel;
use crate::media::decode::{Interlacing, RgbFrame, SourceItem, VideoInfo, VideoSource};
use crate::media::decode_graph::RgbConversion;
use crate::media::image_io::Colour;
use crate::media::layout::StreamLayout;
use crate::media::mux::Muxer;
use crate::media::muxer_format::MuxerFormat;
use crate::media::MediaError;
use crate::report::thumbnail::Preview;
use crate::report::FileSummary;
use crate::stage::frame::process_frame;
use crate::stage::{StageError, StagePool};

use super::checkpoints::{CheckpointError, CheckpointSpec, Checkpoints};
use super::timing::Timing;
use super::video_sink::{CheckpointPlan, VideoSink};
use super::video_warnings::{self, RunFacts};
use super::warnings::Warnings;
use super::{FileProgress, ProcessError, ProcessSettings};
use crate::output_file::PendingOutput;

/// Frames in flight per worker: enough to keep workers busy while the decoder or the
/// encoder has a slow frame, few enough to keep memory flat.
const FRAMES_PER_WORKER: usize = 2;

/// Copied packets that may wait for the muxer.
const PACKET_QUEUE: usize = 512;

/// Where one video goes: the output file, its container, and its checkpoints.
pub struct VideoOutput<'a> {
    pub path: &'a Path,
    pub format: MuxerFormat,
    /// Where and how often a long video keeps what it has restored; `None`: it does not.
    pub checkpoints: Option<&'a CheckpointSpec>,
}

struct FrameResult {
    index: u64,
    pts: Option<i64>,
    duration: i64,
    /// `None`: restored by an earlier run, whose checkpoint has it.
    restored: Result<Option<Colour>, StageError>,
    /// The source frame, kept for the first frame only (the report's "before").
    source: Option<Colour>,
    /// The source frame's A/53 closed captions, for the encoder.
    closed_captions: Option<Vec<u8>>,
}

/// The pipeline's captioning: its setup and the captioners, when it captions.
type Captioning<'a> = Option<(&'a CaptionSetup, &'a CaptionPool)>;

/// Restores `input` into `output`, reporting frames to `progress`.
///
/// # Errors
/// Opening, decoding, a stage, encoding or writing fails, or the run is interrupted;
/// nothing is left at the output path.
pub fn restore_video(
    input: &Path,
    output: &VideoOutput<'_>,
    settings: &ProcessSettings<'_>,
    progress: &dyn FileProgress,
) -> Result<FileSummary, ProcessError> {
    let mut warnings = Warnings::new(input);
    let (source, layout) = open_source(input, settings)?;
    let info = source.info();
    progress.length(u64::try_from(info.stream_frames).unwrap_or(0));
    let (pending, sink) = open_output(output, layout, &info, settings, &mut warnings)?;
    let resumed = sink.as_ref().map_or(0, VideoSink::resume_from);
    if resumed > 0 {
        tracing::info!(
            "{}: resuming after frame {resumed}, restored by an earlier run",
            input.display()
        );
    }
    let caption = settings.pool.plan().caption().zip(settings.captions);
    let run = run_threads(source, sink, caption, settings, progress)?;
    let (captions, mut outputs) = match caption {
        Some((setup, _)) => {
            finish_captions(input, output, pending.as_ref(), setup, &run, &mut warnings)?
        }
        None => (Vec::new(), Vec::new()),
    };
    if let Some(pending) = pending {
        pending.commit()?;
        outputs.insert(0, output.path.to_path_buf());
    }
    video_warnings::after_the_run(&mut warnings, &run.facts(), settings);
    Ok(FileSummary {
        frames: run.written.frames,
        resumed,
        width: run.written.size.0,
        height: run.written.size.1,
        damaged: run.damaged,
        preview: run.written.preview,
        outputs,
        captions,
        warnings: warnings.into_messages(),
    })
}

/// Opens the source with the filters and conversion the plan needs and the run's
/// policies for other streams and damaged frames.
fn open_source(
    input: &Path,
    settings: &ProcessSettings<'_>,
) -> Result<(VideoSource, StreamLayout), ProcessError> {
    let plan = settings.pool.plan();
    let filters = decode_filters(plan);
    // Frames that are only captioned need no restoration-grade conversion.
    let conversion = if plan.writes_media() {
        RgbConversion::Exact
    } else {
        RgbConversion::Fast
    };
    let (mut source, layout) = VideoSource::open(input, &filters, conversion, settings.copy)?;
    source.set_damage_policy(settings.damage);
    Ok((source, layout))
}

/// The pending output file and the sink that encodes into it, when the pipeline writes
/// media (a captioning pipeline writes only caption files).
fn open_output<'s>(
    output: &VideoOutput<'_>,
    layout: StreamLayout,
    info: &VideoInfo,
    settings: &ProcessSettings<'s>,
    warnings: &mut Warnings<'_>,
) -> Result<(Option<PendingOutput>, Option<VideoSink<'s>>), ProcessError> {
    if !settings.pool.plan().writes_media() {
        return Ok((None, None));
    }
    let pending = PendingOutput::new(output.path)?;
    let sink = open_sink(
        pending.temp_path(),
        output,
        layout,
        info,
        settings,
        warnings,
    )?;
    Ok((Some(pending), Some(sink)))
}

/// Creates the container at `temp` and the sink that encodes into it, with the
/// checkpoints of an earlier run when there are any; warns about what the container
/// will not keep of the source.
fn open_sink<'s>(
    temp: &Path,
    output: &VideoOutput<'_>,
    layout: StreamLayout,
    info: &VideoInfo,
    settings: &ProcessSettings<'s>,
    warnings: &mut Warnings<'_>,
) -> Result<VideoSink<'s>, ProcessError> {
    let left_out = layout.left_out.clone();
    let muxer = Muxer::create(temp, &output.format, layout)?;
    let checkpoint_plan = match output.checkpoints {
        // Captions are made from restored frames, which a resumed run does not have.
        Some(spec) if settings.pool.plan().caption().is_none() => {
            checkpoint_plan(spec, info).unwrap_or_else(|error| {
                // The video can still be restored, only not resumed.
                warnings.add(format!("no checkpoints: {error}"));
                None
            })
        }
        _ => None,
    };
    video_warnings::before_the_run(warnings, &muxer, info, &left_out, &output.format);
    Ok(VideoSink::new(
        muxer,
        *info,
        settings.encode,
        checkpoint_plan,
    ))
}

/// What the threads made of a video.
struct Run {
    written: Written,
    damaged: u64,
    interlacing: Interlacing,
    /// Captions of the sampled frames, in time order.
    samples: Vec<Sample>,
}

impl Run {
    fn facts(&self) -> RunFacts {
        RunFacts {
            frames: self.written.frames,
            interlacing: self.interlacing,
            closed_captions: self.written.closed_captions,
            damaged: self.damaged,
        }
    }
}

/// Runs the decoder, the inference workers, the captioner and the writer until the
/// source ends, one fails, or the run is interrupted.
fn run_threads(
    source: VideoSource,
    sink: Option<VideoSink<'_>>,
    caption: Captioning<'_>,
    settings: &ProcessSettings<'_>,
    progress: &dyn FileProgress,
) -> Result<Run, ProcessError> {
    let info = source.info();
    let resume_from = sink.as_ref().map_or(0, VideoSink::resume_from);
    let workers = settings.pool.capacity();
    let (frame_tx, frame_rx) = bounded::<(u64, RgbFrame)>(workers * FRAMES_PER_WORKER);
    let (packet_tx, packet_rx) = bounded::<(usize, Packet)>(PACKET_QUEUE);
    let (result_tx, result_rx) = bounded::<FrameResult>(workers * FRAMES_PER_WORKER);
    let batch = caption.map_or(1, |(setup, _)| setup.batch);
    let (sample_tx, sample_rx) = bounded::<(f64, Array3<f32>)>(batch * 2);
    std::thread::scope(|scope| {
        let skipped = result_tx.clone();
        let decoder = scope.spawn(move || {
            let sinks = DecodeSinks {
                frames: frame_tx,
                packets: packet_tx,
                skipped,
                resume_from,
            };
            decode_loop(source, &sinks, settings.cancel)
        });
        for _ in 0..workers {
            let frames = frame_rx.clone();
            let results = result_tx.clone();
            scope.spawn(move || infer_loop(settings.pool, &frames, &results));
        }
        drop(frame_rx);
        drop(result_tx);
        let captioner =
            caption.map(|(_, pool)| scope.spawn(move || caption_loop(pool, batch, &sample_rx)));
        let sampler = caption.map(|(setup, _)| (Sampler::new(setup.sampling), setup, sample_tx));
        let writer = FrameWriter::new(sink, &info, sampler);
        let written = write_loop(writer, packet_rx, result_rx, progress);
        let decoded = decoder.join().map_err(|_| ProcessError::ThreadPanicked)?;
        let samples = match captioner {
            Some(handle) => handle.join().map_err(|_| ProcessError::ThreadPanicked)?,
            None => Ok(Vec::new()),
        };
        // A decode error (or the interruption) explains a short write better than the
        // writer's own complaint.
        let (damaged, interlacing) = decoded?;
        Ok(Run {
            written: written?,
            damaged,
            interlacing,
            samples: samples?,
        })
    })
}

/// Turns the samples into cues, muxes them into the output as a subtitle track when the
/// pipeline asks and the container can, and writes the caption files; returns the cues
/// and the files written.
fn finish_captions(
    input: &Path,
    output: &VideoOutput<'_>,
    pending: Option<&PendingOutput>,
    setup: &CaptionSetup,
    run: &Run,
    warnings: &mut Warnings<'_>,
) -> Result<(Vec<Cue>, Vec<PathBuf>), ProcessError> {
    let start = run.written.first_time;
    let cues = cues_from_samples(
        &run.samples
            .iter()
            .map(|s| Sample {
                at: s.at - start,
                ..s.clone()
            })
            .collect::<Vec<_>>(),
        (run.written.end_time - start).max(0.0),
    );
    if let (Some(pending), true) = (pending, setup.mux) {
        if output.format == MuxerFormat::Matroska {
            mux_captions(pending, &output.format, &cues, start)?;
        } else {
            warnings.add(
                "captions are written beside the video; muxing them as a track needs \
                 `container: mkv`"
                    .into(),
            );
        }
    }
    let files = write_video_captions(&caption_base(output.path), input, &setup.model, &cues)?;
    Ok((cues, files))
}

/// Rewrites the pending output with `cues` (times from the first frame, at `start`) as
/// a subtitle track.
fn mux_captions(
    pending: &PendingOutput,
    format: &MuxerFormat,
    cues: &[Cue],
    start: f64,
) -> Result<(), ProcessError> {
    let timed: Vec<TimedText> = cues
        .iter()
        .map(|c| TimedText {
            start: c.start + start,
            end: c.end + start,
            text: c.text.clone(),
        })
        .collect();
    pending.rewrite(|from, to| -> Result<(), ProcessError> {
        Ok(add_caption_track(
            from,
            to,
            format.name(),
            &timed,
            "eng",
            "Captions",
        )?)
    })
}

/// The decode-side filters. A pipeline that only captions at a fixed interval lets
/// ffmpeg drop the frames between samples before they are converted to RGB, so a long
/// video costs little more than decoding it.
fn decode_filters(plan: &crate::stage::StagePlan) -> Vec<String> {
    let mut filters = plan.filters().to_vec();
    if let (false, Some(setup)) = (plan.writes_media(), plan.caption()) {
        if let SamplingMode::Every(interval) = setup.sampling {
            // A millisecond of slack: frame times are rounded to the stream's time base.
            filters.push(format!(
                "select='isnan(prev_selected_t)+gte(t-prev_selected_t,{:.6})'",
                (interval - 0.001).max(0.0)
            ));
        }
    }
    filters
}

/// Captions sampled frames in batches as they arrive, as many batches at once as the
/// caption pool has captioners, so a lone video keeps every core busy.
fn caption_loop(
    pool: &CaptionPool,
    batch: usize,
    frames: &Receiver<(f64, Array3<f32>)>,
) -> Result<Vec<Sample>, ProcessError> {
    let workers = pool.capacity();
    let (batch_tx, batch_rx) = bounded::<Vec<(f64, Array3<f32>)>>(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let batches = batch_rx.clone();
                scope.spawn(move || -> Result<Vec<Sample>, ProcessError> {
                    let mut samples = Vec::new();
                    for pending in batches {
                        samples.extend(caption_batch(pool, pending)?);
                    }
                    Ok(samples)
                })
            })
            .collect();
        drop(batch_rx);
        let mut pending = Vec::with_capacity(batch);
        for item in frames {
            pending.push(item);
            if pending.len() >= batch {
                let full = std::mem::replace(&mut pending, Vec::with_capacity(batch));
                if batch_tx.send(full).is_err() {
                    // Every captioner stopped; their error is the one to report.
                    break;
                }
            }
        }
        if !pending.is_empty() {
            // Fails only when every captioner stopped, whose error is reported below.
            let _ = batch_tx.send(pending);
        }
        drop(batch_tx);
        let mut samples = Vec::new();
        for handle in handles {
            samples.extend(handle.join().map_err(|_| ProcessError::ThreadPanicked)??);
        }
        samples.sort_by(|a, b| a.at.total_cmp(&b.at));
        Ok(samples)
    })
}

fn caption_batch(
    pool: &CaptionPool,
    pending: Vec<(f64, Array3<f32>)>,
) -> Result<Vec<Sample>, ProcessError> {
    let (times, prepared): (Vec<f64>, Vec<Array3<f32>>) = pending.into_iter().unzip();
    let captions = pool.with(|captioner| captioner.caption(&prepared))??;
    Ok(times
        .into_iter()
        .zip(captions)
        .map(|(at, caption)| Sample {
            at,
            text: caption.text,
            mean_log_prob: caption.mean_log_prob,
        })
        .collect())
}

/// Where the decoder's output goes.
struct DecodeSinks {
    frames: Sender<(u64, RgbFrame)>,
    packets: Sender<(usize, Packet)>,
    /// Frames restored by an earlier run go straight to the writer.
    skipped: Sender<FrameResult>,
    /// Frames before this index were restored by an earlier run.
    resume_from: u64,
}

/// Reads the source until its end; returns how many frames were damaged and how many
/// reached the stages still interlaced.
fn decode_loop(
    mut source: VideoSource,
    sinks: &DecodeSinks,
    cancel: &Cancel,
) -> Result<(u64, Interlacing), ProcessError> {
    let mut index = 0;
    while let Some(item) = source.next_item()? {
        if cancel.is_set() {
            return Err(ProcessError::Interrupted);
        }
        let sent = match item {
            // The first frame is restored anyway: it is the report's "after" picture.
            SourceItem::Frame(frame) if index < sinks.resume_from && index > 0 => {
                index += 1;
                let skipped = FrameResult {
                    index: index - 1,
                    pts: frame.pts,
                    duration: frame.duration,
                    restored: Ok(None),
                    source: None,
                    closed_captions: None,
                };
                sinks.skipped.send(skipped).is_ok()
            }
            SourceItem::Frame(frame) => {
                index += 1;
                sinks.frames.send((index - 1, frame)).is_ok()
            }
            SourceItem::Packet(stream, packet) => sinks.packets.send((stream, packet)).is_ok(),
        };
        if !sent {
            // The writer stopped; its error is the one to report.
            break;
        }
    }
    Ok((source.damaged_frames(), source.interlacing()))
}

fn infer_loop(pool: &StagePool, frames: &Receiver<(u64, RgbFrame)>, results: &Sender<FrameResult>) {
    for (index, frame) in frames {
        // Only the first frame's source is kept (the report's "before" picture); every
        // other frame moves through the stages without a copy.
        let source = (index == 0).then(|| frame.image.clone());
        let image = frame.image;
        let restored = if pool.plan().has_frame_stages() {
            pool.with(|stages| process_frame(stages, image))
                .and_then(|r| r)
        } else {
            Ok(image)
        }
        .map(Some);
        let failed = restored.is_err();
        let result = FrameResult {
            index,
            pts: frame.pts,
            duration: frame.duration,
            restored,
            source,
            closed_captions: frame.closed_captions,
        };
        if results.send(result).is_err() || failed {
            return;
        }
    }
}

type SamplerParts<'s> = (Sampler, &'s CaptionSetup, Sender<(f64, Array3<f32>)>);

/// Writes copied packets as they come and restored frames in their order, until both
/// the decoder and the workers are done.
fn write_loop(
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
struct Written {
    frames: u64,
    /// Size of the restored frames.
    size: (u32, u32),
    preview: Option<Preview>,
    /// Some frame came with closed captions.
    closed_captions: bool,
    /// The presentation span of the frames, in seconds.
    first_time: f64,
    end_time: f64,
}

/// The writing end: puts results back in frame order, places them on the timeline, and
/// hands them to the sink (the encoder and muxer) and the caption sampler.
struct FrameWriter<'s, 'c> {
    sink: Option<VideoSink<'s>>,
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
    closed_captions: bool,
    first_time: Option<f64>,
    end_time: f64,
}

impl<'s, 'c> FrameWriter<'s, 'c> {
    fn new(
        sink: Option<VideoSink<'s>>,
        info: &VideoInfo,
        sampler: Option<SamplerParts<'c>>,
    ) -> Self {
        Self {
            sink,
            sampler,
            timing: Timing::new(info),
            tick: f64::from(info.time_base),
            reorder: BTreeMap::new(),
            next: 0,
            size: (0, 0),
            preview: None,
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
        if let (Some(source), Some(image)) = (&result.source, &restored) {
            self.preview = Preview::new(&source.to_eight(), &image.to_eight());
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
                sink.encode(next, (&image, captions), pts, &mut self.timing)?;
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
        if let Some(sink) = self.sink {
            sink.finish(&mut self.timing)?;
        }
        Ok(Written {
            frames: self.next,
            size: self.size,
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

/// Opens the checkpoints of a video long enough to have more than one segment.
fn checkpoint_plan(
    spec: &CheckpointSpec,
    info: &VideoInfo,
) -> Result<Option<CheckpointPlan>, CheckpointError> {
    let tick = f64::from(info.time_base);
    if !(tick.is_finite() && tick > 0.0) {
        return Ok(None);
    }
    let rate = f64::from(info.frame_rate);
    let known_length = info.end_time.or_else(|| {
        (info.stream_frames > 0 && rate.is_finite() && rate > 0.0)
            .then(|| info.stream_frames as f64 / rate)
    });
    if known_length.is_some_and(|length| length <= spec.every) {
        return Ok(None);
    }
    let segment_length = (spec.every / tick).round().max(1.0) as i64;
    let checkpoints = Checkpoints::open(spec)?;
    let done = checkpoints.completed()?;
    Ok(Some(CheckpointPlan {
        checkpoints,
        segment_length,
        done,
    }))
}
