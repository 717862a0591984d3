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
use crate::media::decode::{
    DamagePolicy, Interlacing, RgbFrame, SourceItem, VideoInfo, VideoSource,
};
use crate::media::decode_graph::RgbConversion;
use crate::media::encode::EncodeSettings;
use crate::media::image_io::Colour;
use crate::media::layout::CopyPolicy;
use crate::media::mux::Muxer;
use crate::media::muxer_format::MuxerFormat;
use crate::media::MediaError;
use crate::report::thumbnail::Preview;
use crate::stage::frame::process_frame;
use crate::stage::{StageError, StagePool};

use super::checkpoints::{CheckpointError, CheckpointSpec, Checkpoints};
use super::timing::Timing;
use super::video_sink::{CheckpointPlan, VideoSink};
use super::video_warnings::{self, RunFacts};
use super::warnings::Warnings;
use super::{FileProgress, ProcessError};
use crate::output_file::PendingOutput;

/// Frames in flight per worker: enough to keep workers busy while the decoder or the
/// encoder has a slow frame, few enough to keep memory flat.
const FRAMES_PER_WORKER: usize = 2;

/// Copied packets that may wait for the muxer.
const PACKET_QUEUE: usize = 512;

/// How to process one video.
pub struct VideoSettings<'a> {
    pub pool: &'a StagePool,
    /// Captioners, when the pipeline ends with a caption stage.
    pub captions: Option<&'a CaptionPool>,
    pub encode: &'a EncodeSettings,
    pub policy: CopyPolicy,
    pub damage: DamagePolicy,
    /// The muxer of the output.
    pub format: &'a MuxerFormat,
    pub cancel: &'a Cancel,
    /// Where and how often a long video keeps what it has restored; `None`: it does not.
    pub checkpoints: Option<&'a CheckpointSpec>,
}

/// What a finished video job did.
#[derive(Debug, Clone)]
pub struct VideoSummary {
    pub frames: u64,
    pub width: u32,
    pub height: u32,
    /// Frames that could not be decoded and were skipped or repeated.
    pub damaged: u64,
    pub preview: Option<Preview>,
    /// Every file written (the video, when the pipeline writes media, and caption files).
    pub outputs: Vec<PathBuf>,
    /// Frames an earlier run had restored, taken from its checkpoints.
    pub resumed: u64,
    /// The caption cues (times from the first frame, as in the caption files).
    pub captions: Vec<Cue>,
    /// What the run noticed but did not fail for.
    pub warnings: Vec<String>,
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

/// Restores `input` into `target`, reporting frames to `progress`.
///
/// # Errors
/// Opening, decoding, a stage, encoding or writing fails, or the run is interrupted;
/// nothing is left at `target`.
pub fn restore_video(
    input: &Path,
    target: &Path,
    settings: &VideoSettings<'_>,
    progress: &dyn FileProgress,
) -> Result<VideoSummary, ProcessError> {
    let plan = settings.pool.plan();
    let mut warnings = Warnings::new(input);
    let filters = decode_filters(plan);
    // Frames that are only captioned need no restoration-grade conversion.
    let conversion = if plan.writes_media() {
        RgbConversion::Exact
    } else {
        RgbConversion::Fast
    };
    let (mut source, layout) = VideoSource::open(input, &filters, conversion, settings.policy)?;
    let left_out = layout.left_out.clone();
    source.set_damage_policy(settings.damage);
    let info = source.info();
    progress.length(u64::try_from(info.stream_frames).unwrap_or(0));
    let writes_media = plan.writes_media();
    let pending = if writes_media {
        Some(PendingOutput::new(target)?)
    } else {
        None
    };
    let muxer = match &pending {
        Some(p) => Some(Muxer::create(p.temp_path(), settings.format, layout)?),
        None => None,
    };
    let checkpoint_plan = match settings.checkpoints {
        // Captions are made from restored frames, which a resumed run does not have.
        Some(spec) if muxer.is_some() && plan.caption().is_none() => {
            checkpoint_plan(spec, &info).unwrap_or_else(|error| {
                // The video can still be restored, only not resumed.
                warnings.add(format!("no checkpoints: {error}"));
                None
            })
        }
        _ => None,
    };
    let resume_from = checkpoint_plan
        .as_ref()
        .and_then(|p| p.done.last())
        .map_or(0, |s| s.end());
    if resume_from > 0 {
        tracing::info!(
            "{}: resuming after frame {resume_from}, restored by an earlier run",
            input.display()
        );
    }
    if let Some(muxer) = &muxer {
        video_warnings::before_the_run(&mut warnings, muxer, &info, &left_out, settings.format);
    }
    let caption = plan.caption().zip(settings.captions);
    let workers = settings.pool.capacity();
    let (frame_tx, frame_rx) = bounded::<(u64, RgbFrame)>(workers * FRAMES_PER_WORKER);
    let (packet_tx, packet_rx) = bounded::<(usize, Packet)>(PACKET_QUEUE);
    let (result_tx, result_rx) = bounded::<FrameResult>(workers * FRAMES_PER_WORKER);
    let batch = caption.map_or(1, |(setup, _)| setup.batch);
    let (sample_tx, sample_rx) = bounded::<(f64, Array3<f32>)>(batch * 2);

    let (summary, samples) = std::thread::scope(|scope| {
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
        let sink = muxer.map(|m| VideoSink::new(m, info, settings.encode, checkpoint_plan));
        let written = write_loop(sink, info, packet_rx, result_rx, sampler, progress);
        let decoded = decoder.join().map_err(|_| ProcessError::ThreadPanicked)?;
        let samples = match captioner {
            Some(handle) => handle.join().map_err(|_| ProcessError::ThreadPanicked)?,
            None => Ok(Vec::new()),
        };
        // A decode error (or the interruption) explains a short write better than the
        // writer's own complaint.
        let (damaged, interlacing) = decoded?;
        let summary = written.map(|summary| WriteSummary {
            damaged,
            interlacing,
            resumed: resume_from,
            ..summary
        })?;
        Ok::<_, ProcessError>((summary, samples?))
    })?;
    let mut summary = summary;
    let mut captions = Vec::new();
    if let Some((setup, _)) = caption {
        let start = summary.first_time;
        let cues = cues_from_samples(
            &samples
                .iter()
                .map(|s| Sample {
                    at: s.at - start,
                    ..s.clone()
                })
                .collect::<Vec<_>>(),
            (summary.end_time - start).max(0.0),
        );
        if let Some(pending) = &pending {
            if setup.mux && *settings.format == MuxerFormat::Matroska {
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
                        settings.format.name(),
                        &timed,
                        "eng",
                        "Captions",
                    )?)
                })?;
            } else if setup.mux {
                warnings.add(
                    "captions are written beside the video; muxing them as a track needs \
                     `container: mkv`"
                        .into(),
                );
            }
        }
        summary.outputs.extend(write_video_captions(
            &caption_base(target),
            input,
            &setup.model,
            &cues,
        )?);
        captions = cues;
    }
    if let Some(pending) = pending {
        pending.commit()?;
        summary.outputs.insert(0, target.to_path_buf());
    }
    video_warnings::after_the_run(
        &mut warnings,
        &RunFacts {
            frames: summary.frames,
            interlacing: summary.interlacing,
            closed_captions: summary.closed_captions,
            damaged: summary.damaged,
        },
        settings,
    );
    let mut summary: VideoSummary = summary.into();
    summary.captions = captions;
    summary.warnings = warnings.into_messages();
    Ok(summary)
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

fn write_loop(
    mut sink: Option<VideoSink<'_>>,
    info: VideoInfo,
    packets: Receiver<(usize, Packet)>,
    results: Receiver<FrameResult>,
    mut sampler: Option<SamplerParts<'_>>,
    progress: &dyn FileProgress,
) -> Result<WriteSummary, ProcessError> {
    let seconds = |pts: i64| pts as f64 * f64::from(info.time_base);
    let (mut first_time, mut end_time) = (None, info.end_time.unwrap_or(0.0));
    let mut packets = packets;
    let mut results = results;
    let mut reorder: BTreeMap<u64, FrameResult> = BTreeMap::new();
    let mut next = 0u64;
    let mut timing = Timing::new(&info);
    let mut size = (0, 0);
    let mut preview = None;
    let mut closed_captions = false;
    let (mut packets_open, mut results_open) = (true, true);
    while packets_open || results_open {
        select! {
            recv(packets) -> message => match message {
                Ok((stream, packet)) => if let Some(sink) = &mut sink { sink.write_copied(stream, packet)? },
                Err(_) => { packets_open = false; packets = never(); }
            },
            recv(results) -> message => match message {
                Ok(result) => {
                    reorder.insert(result.index, result);
                    while let Some(result) = reorder.remove(&next) {
                        let restored = result.restored?;
                        closed_captions |= result.closed_captions.is_some();
                        if let (Some(source), Some(image)) = (&result.source, &restored) {
                            preview = Preview::new(&source.to_eight(), &image.to_eight());
                        }
                        let pts = timing.place(result.pts, result.duration);
                        let time = seconds(pts);
                        first_time.get_or_insert(time);
                        end_time = end_time.max(time + seconds(result.duration.max(timing.nominal())));
                        let resumed = sink.as_ref().is_some_and(|s| next < s.resume_from());
                        match (&mut sink, restored) {
                            (Some(sink), Some(image)) if !resumed => {
                                size = image.dimensions();
                                sample(&mut sampler, time, &image)?;
                                let captions = result.closed_captions.as_deref();
                                sink.encode(next, (&image, captions), pts, &mut timing)?;
                            }
                            (Some(sink), image) => {
                                if let Some(image) = image {
                                    size = image.dimensions();
                                }
                                sink.replay(next, size, &mut timing)?;
                            }
                            (None, Some(image)) => {
                                size = image.dimensions();
                                sample(&mut sampler, time, &image)?;
                            }
                            (None, None) => {}
                        }
                        next += 1;
                        progress.advance(1);
                    }
                }
                Err(_) => { results_open = false; results = never(); }
            },
        }
    }
    if !reorder.is_empty() {
        return Err(MediaError::Unsupported(format!(
            "frame {next} never came back from inference"
        ))
        .into());
    }
    if let Some(sink) = sink {
        sink.finish(&mut timing)?;
    }
    Ok(WriteSummary {
        frames: next,
        width: size.0,
        height: size.1,
        damaged: 0,
        interlacing: Interlacing::default(),
        closed_captions,
        resumed: 0,
        preview,
        outputs: Vec::new(),
        first_time: first_time.unwrap_or(0.0),
        end_time,
    })
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

/// What the writer saw: the summary plus the presentation span of the frames.
struct WriteSummary {
    frames: u64,
    /// Some frame came with closed captions.
    closed_captions: bool,
    width: u32,
    height: u32,
    damaged: u64,
    interlacing: Interlacing,
    resumed: u64,
    preview: Option<Preview>,
    outputs: Vec<PathBuf>,
    first_time: f64,
    end_time: f64,
}

impl From<WriteSummary> for VideoSummary {
    fn from(w: WriteSummary) -> Self {
        Self {
            frames: w.frames,
            width: w.width,
            height: w.height,
            damaged: w.damaged,
            preview: w.preview,
            outputs: w.outputs,
            resumed: w.resumed,
            captions: Vec::new(),
            warnings: Vec::new(),
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
