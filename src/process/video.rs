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
//!
//! This file opens the ends and runs the threads; the writing end is in
//! `video_writer.rs`, the captions in `video_captions.rs`.

use std::path::Path;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};
use ffmpeg_next::Packet;
use ndarray::Array3;

use crate::caption::cues::{Cue, Sample};
use crate::caption::sampler::{Sampler, SamplingMode};
use crate::stage::caption::{CaptionPool, CaptionSetup};

use crate::cancel::Cancel;
use crate::media::decode::{Interlacing, RgbFrame, SourceItem, VideoInfo, VideoSource};
use crate::media::decode_graph::RgbConversion;
use crate::media::encode::EncodeSettings;
use crate::media::layout::StreamLayout;
use crate::media::mux::Muxer;
use crate::media::muxer_format::MuxerFormat;
use crate::media::post_filter::PostFilter;
use crate::report::FileSummary;
use crate::stage::frame::process_frames;
use crate::stage::{StagePlan, StagePool};

use super::after_restore::AfterRestore;
use super::checkpoints::{CheckpointError, CheckpointSpec, Checkpoints};
use super::output_encoding::{check_frame_size, output_encoding, OutputEncoding};
use super::video_captions::{caption_loop, finish_captions};
use super::video_sink::{CheckpointPlan, VideoSink};
use super::video_warnings::{self, RunFacts};
use super::video_writer::{write_loop, FrameResult, FrameWriter, VideoEnd, Written};
use super::warnings::Warnings;
use super::xmp_output::{write_xmp, Described};
use super::{FileProgress, ProcessError, ProcessSettings};
use crate::file_progress::{clock, FrameTotal};
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
    let plan = settings.pool.plan();
    let encoding = if plan.writes_media() {
        output_encoding(settings.encode, &output.format, settings.codec_named)?
    } else {
        OutputEncoding::unchanged(settings.encode)
    };
    if let Some(warning) = &encoding.warning {
        warnings.add(warning.clone());
    }
    let (source, layout) = open_source(input, settings)?;
    let info = source.info();
    let after = filters_after(plan, &info)?;
    let written = after.as_ref().map_or(info, |filter| *filter.output());
    if plan.writes_media() {
        let after = after.as_ref().map(PostFilter::output);
        check_frame_size(&encoding.settings, &info, plan.scale(), after)?;
    }
    let frames_per_second = f64::from(info.frame_rate);
    progress.length(FrameTotal::from_stated(
        info.expected_frames,
        source.stated_duration(),
        frames_per_second,
    ));
    let ends = (output, &*encoding.settings);
    let (pending, sink) = open_output(ends, layout, &written, settings, &mut warnings)?;
    let resumed = sink.as_ref().map_or(0, VideoSink::resume_from);
    let end = sink.map(|sink| VideoEnd {
        sink,
        after: after.map(AfterRestore::new),
    });
    if resumed > 0 {
        progress.note(&resuming_line(input, resumed, frames_per_second));
    }
    let caption = settings.pool.plan().caption().zip(settings.captions);
    let run = run_threads(source, end, caption, settings, progress)?;
    let (captions, mut outputs) = match caption {
        Some((setup, _)) => finish_captions(
            input,
            output,
            pending.as_ref(),
            setup,
            (&run.samples, &run.written),
            &mut warnings,
        )?,
        None => (Vec::new(), Vec::new()),
    };
    let description = description_of(&captions);
    let described = Described {
        input,
        output: output.path,
        written: pending.as_ref().map(PendingOutput::temp_path),
        caption: description.as_deref(),
    };
    let sidecar = write_xmp(&described, &settings.xmp, &mut warnings)?;
    if let Some(pending) = pending {
        pending.commit()?;
        outputs.insert(0, output.path.to_path_buf());
    }
    outputs.extend(sidecar);
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

/// A video's description for its XMP: its distinct captions in order (each shot's),
/// joined; the timed cues are in its subtitle files.
fn description_of(captions: &[Cue]) -> Option<String> {
    let mut distinct: Vec<&str> = Vec::new();
    for cue in captions {
        if distinct.last() != Some(&cue.text.as_str()) && !cue.text.is_empty() {
            distinct.push(&cue.text);
        }
    }
    (!distinct.is_empty()).then(|| distinct.join("; "))
}

/// `film.mkv: resuming at 0:12:30 from checkpoints (frame 18750)`, said as the file starts.
fn resuming_line(input: &Path, resumed: u64, frames_per_second: f64) -> String {
    let at = if frames_per_second > 0.0 {
        let seconds = resumed as f64 / frames_per_second;
        format!("at {} ", clock(Duration::from_secs_f64(seconds)))
    } else {
        String::new()
    };
    format!(
        "{}: resuming {at}from checkpoints (frame {resumed})",
        input.display()
    )
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
    let (mut source, layout) =
        VideoSource::open(input, &filters, conversion, settings.copy, settings.decoder)?;
    source.set_damage_policy(settings.damage);
    Ok((source, layout))
}

/// The pending output file and the sink that encodes into it, when the pipeline writes
/// media (a captioning pipeline writes only caption files).
fn open_output<'e>(
    (output, encode): (&VideoOutput<'_>, &'e EncodeSettings),
    layout: StreamLayout,
    info: &VideoInfo,
    settings: &ProcessSettings<'_>,
    warnings: &mut Warnings<'_>,
) -> Result<(Option<PendingOutput>, Option<VideoSink<'e>>), ProcessError> {
    if !settings.pool.plan().writes_media() {
        return Ok((None, None));
    }
    let pending = PendingOutput::new(output.path)?;
    let sink = open_sink(
        (pending.temp_path(), encode),
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
fn open_sink<'e>(
    (temp, encode): (&Path, &'e EncodeSettings),
    output: &VideoOutput<'_>,
    layout: StreamLayout,
    info: &VideoInfo,
    settings: &ProcessSettings<'_>,
    warnings: &mut Warnings<'_>,
) -> Result<VideoSink<'e>, ProcessError> {
    let left_out = layout.left_out.clone();
    let muxer = Muxer::create(temp, &output.format, layout)?;
    let checkpoint_plan = match output.checkpoints {
        // Captions are made from restored frames, which a resumed run does not have;
        // filters after restoration see the frames of the whole video in order.
        Some(spec)
            if settings.pool.plan().caption().is_none()
                && settings.pool.plan().filters_after().chains().is_empty() =>
        {
            checkpoint_plan(spec, info).unwrap_or_else(|error| {
                // The video can still be restored, only not resumed.
                warnings.add(format!("no checkpoints: {error}"));
                None
            })
        }
        _ => None,
    };
    video_warnings::before_the_run(warnings, &muxer, info, &left_out, &output.format);
    Ok(VideoSink::new(muxer, *info, encode, checkpoint_plan))
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
    end: Option<VideoEnd<'_>>,
    caption: Captioning<'_>,
    settings: &ProcessSettings<'_>,
    progress: &dyn FileProgress,
) -> Result<Run, ProcessError> {
    let info = source.info();
    let resume_from = end.as_ref().map_or(0, |end| end.sink.resume_from());
    let workers = settings.pool.capacity();
    // A worker that runs several frames together (`tile_batch`) needs them waiting.
    let frames_per_run = settings.pool.plan().frames_per_run(info.width, info.height);
    let per_worker = FRAMES_PER_WORKER.max(frames_per_run);
    let (frame_tx, frame_rx) = bounded::<(u64, RgbFrame)>(workers * per_worker);
    let (packet_tx, packet_rx) = bounded::<(usize, Packet)>(PACKET_QUEUE);
    let (result_tx, result_rx) = bounded::<FrameResult>(workers * per_worker);
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
            scope.spawn(move || infer_loop(settings.pool, frames_per_run, &frames, &results));
        }
        drop(frame_rx);
        drop(result_tx);
        let captioner =
            caption.map(|(_, pool)| scope.spawn(move || caption_loop(pool, batch, &sample_rx)));
        let sampler = caption.map(|(setup, _)| (Sampler::new(setup.sampling), setup, sample_tx));
        let writer = FrameWriter::new(end, &info, sampler);
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

/// The decode-side filters. A pipeline that only captions at a fixed interval lets
/// ffmpeg drop the frames between samples before they are converted to RGB, so a long
/// video costs little more than decoding it.
fn decode_filters(plan: &StagePlan) -> Vec<String> {
    let mut filters = plan.filters_before().chains().to_vec();
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

/// The filters after restoration, opened for this video's restored frames (its
/// frames after the filters before restoration, at the restore stages' scale).
fn filters_after(plan: &StagePlan, info: &VideoInfo) -> Result<Option<PostFilter>, ProcessError> {
    let Some(chain) = plan.filters_after().joined() else {
        return Ok(None);
    };
    let scale = plan.scale();
    let restored = VideoInfo {
        width: info.width * scale,
        height: info.height * scale,
        ..*info
    };
    Ok(Some(PostFilter::open(&chain, &restored)?))
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

/// Restores the frames a worker receives. Where the restore stages run several tiles at
/// once (`tile_batch`), the worker takes as many frames as are waiting, up to
/// `frames_per_run`, so whole frames share model runs too.
fn infer_loop(
    pool: &StagePool,
    frames_per_run: usize,
    frames: &Receiver<(u64, RgbFrame)>,
    results: &Sender<FrameResult>,
) {
    while let Ok(first) = frames.recv() {
        let mut taken = vec![first];
        while taken.len() < frames_per_run {
            match frames.try_recv() {
                Ok(frame) => taken.push(frame),
                Err(_) => break,
            }
        }
        if !restore_taken(pool, taken, results) {
            return;
        }
    }
}

/// Restores `taken` frames together and sends their results; false when the writer is
/// gone or the frames failed (the file fails on the first frame's error).
fn restore_taken(
    pool: &StagePool,
    taken: Vec<(u64, RgbFrame)>,
    results: &Sender<FrameResult>,
) -> bool {
    let mut images = Vec::with_capacity(taken.len());
    let pending: Vec<FrameResult> = taken
        .into_iter()
        .map(|(index, frame)| {
            // Only the first frame's source is kept (the report's "before" picture);
            // every other frame moves through the stages without a copy.
            let source = (index == 0).then(|| frame.image.clone());
            images.push(frame.image);
            FrameResult {
                index,
                pts: frame.pts,
                duration: frame.duration,
                restored: Ok(None),
                source,
                closed_captions: frame.closed_captions,
            }
        })
        .collect();
    let restored = if pool.plan().has_frame_stages() {
        pool.with(|stages| process_frames(stages, images))
            .and_then(|r| r)
    } else {
        Ok(images)
    };
    match restored {
        Ok(images) => pending.into_iter().zip(images).all(|(mut result, image)| {
            result.restored = Ok(Some(image));
            results.send(result).is_ok()
        }),
        Err(error) => {
            if let Some(mut first) = pending.into_iter().next() {
                first.restored = Err(error);
                // The file fails either way; a writer already gone has its own error.
                let _ = results.send(first);
            }
            false
        }
    }
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
        (info.expected_frames > 0 && rate.is_finite() && rate > 0.0)
            .then(|| info.expected_frames as f64 / rate)
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
