//! Restoring one video as a bounded pipeline:
//!
//! ```text
//! decode thread ──frames──▶ N inference workers ──results──▶ reorder ─▶ encode + mux
//!        └────────────── copied audio/subtitle packets ─────────────────▶ mux
//! ```
//!
//! Bounded channels give backpressure, so memory stays flat however long the video is.
//! Each worker owns its own sessions. Every frame keeps its source timestamp, so
//! variable frame rates survive, and copied streams keep theirs.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crossbeam_channel::{bounded, never, select, Receiver, Sender};
use ffmpeg_next::{Packet, Rational};
use image::RgbImage;

use crate::media::decode::{RgbFrame, SourceItem, VideoInfo, VideoSource};
use crate::media::encode::{EncodeSettings, EncodeTarget, VideoEncoder};
use crate::media::layout::CopyPolicy;
use crate::media::mux::Muxer;
use crate::media::MediaError;
use crate::stage::{StageError, StagePlan};

use super::output_file::PendingOutput;
use super::ProcessError;

/// Frames in flight per worker: enough to keep workers busy while the decoder or the
/// encoder has a slow frame, few enough to keep memory flat.
const FRAMES_PER_WORKER: usize = 2;

/// Copied packets that may wait for the muxer.
const PACKET_QUEUE: usize = 512;

/// How to process one video.
pub struct VideoSettings<'a> {
    pub plan: &'a StagePlan,
    pub encode: &'a EncodeSettings,
    pub policy: CopyPolicy,
    /// ffmpeg muxer name for the output (`matroska`, `mp4`, …).
    pub format: &'a str,
    pub workers: usize,
}

/// What a finished video job did.
#[derive(Debug, Clone, Copy)]
pub struct VideoSummary {
    pub frames: u64,
    pub width: u32,
    pub height: u32,
}

type FrameResult = (u64, Option<i64>, i64, Result<RgbImage, StageError>);

/// Restores `input` into `target`, calling `on_frame` after each frame is written.
///
/// # Errors
/// Opening, decoding, a stage, encoding or writing fails; nothing is left at `target`.
pub fn restore_video(
    input: &Path,
    target: &Path,
    settings: &VideoSettings<'_>,
    on_frame: &(dyn Fn(u64) + Sync),
) -> Result<VideoSummary, ProcessError> {
    let (source, layout) = VideoSource::open(input, settings.plan.filters(), settings.policy)?;
    let info = source.info();
    let pending = PendingOutput::new(target)?;
    let muxer = Muxer::create(pending.temp_path(), settings.format, layout)?;
    if let Some(angle) = muxer.unstorable_rotation() {
        // Not an error: the pictures are all there, only the player's turn is lost.
        tracing::warn!(
            "{}: its display rotation ({angle}°) cannot be stored in {} by this ffmpeg, \
             so the output plays unrotated; use `container: same` (or `mp4`) to keep it",
            input.display(),
            settings.format
        );
    }
    let workers = settings.workers.max(1);
    let (frame_tx, frame_rx) = bounded::<(u64, RgbFrame)>(workers * FRAMES_PER_WORKER);
    let (packet_tx, packet_rx) = bounded::<(usize, Packet)>(PACKET_QUEUE);
    let (result_tx, result_rx) = bounded::<FrameResult>(workers * FRAMES_PER_WORKER);

    let summary = std::thread::scope(|scope| {
        let decoder = scope.spawn(move || decode_loop(source, &frame_tx, &packet_tx));
        for _ in 0..workers {
            let frames = frame_rx.clone();
            let results = result_tx.clone();
            scope.spawn(move || infer_loop(settings.plan, &frames, &results));
        }
        drop(frame_rx);
        drop(result_tx);
        let written = write_loop(muxer, info, settings, packet_rx, result_rx, on_frame);
        let decoded = decoder.join().map_err(|_| ProcessError::ThreadPanicked)?;
        // A decode error explains a short write better than the writer's own complaint.
        decoded?;
        written
    })?;
    pending.commit()?;
    Ok(summary)
}

fn decode_loop(
    mut source: VideoSource,
    frames: &Sender<(u64, RgbFrame)>,
    packets: &Sender<(usize, Packet)>,
) -> Result<(), ProcessError> {
    let mut index = 0;
    while let Some(item) = source.next_item()? {
        let sent = match item {
            SourceItem::Frame(frame) => {
                index += 1;
                frames.send((index - 1, frame)).is_ok()
            }
            SourceItem::Packet(stream, packet) => packets.send((stream, packet)).is_ok(),
        };
        if !sent {
            // The writer stopped; its error is the one to report.
            return Ok(());
        }
    }
    Ok(())
}

fn infer_loop(plan: &StagePlan, frames: &Receiver<(u64, RgbFrame)>, results: &Sender<FrameResult>) {
    let mut stages = match plan.instantiate() {
        Ok(stages) => stages,
        Err(error) => {
            let _ = results.send((0, None, 0, Err(error)));
            return;
        }
    };
    for (index, frame) in frames {
        let mut image = Ok(frame.image);
        for stage in &mut stages {
            image = image.and_then(|i| stage.process(&i));
        }
        let failed = image.is_err();
        if results
            .send((index, frame.pts, frame.duration, image))
            .is_err()
            || failed
        {
            return;
        }
    }
}

/// Timestamps and durations of the frames as they are encoded.
struct Timing {
    nominal: i64,
    last_pts: Option<i64>,
    durations: HashMap<i64, i64>,
}

impl Timing {
    fn new(info: &VideoInfo) -> Self {
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
    fn place(&mut self, pts: Option<i64>, source_duration: i64) -> i64 {
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

    fn duration_of(&mut self, pts: Option<i64>) -> i64 {
        pts.and_then(|p| self.durations.remove(&p))
            .unwrap_or(self.nominal)
    }
}

fn write_loop(
    mut muxer: Muxer,
    info: VideoInfo,
    settings: &VideoSettings<'_>,
    packets: Receiver<(usize, Packet)>,
    results: Receiver<FrameResult>,
    on_frame: &(dyn Fn(u64) + Sync),
) -> Result<VideoSummary, ProcessError> {
    let mut packets = packets;
    let mut results = results;
    let mut reorder: BTreeMap<u64, (Option<i64>, i64, RgbImage)> = BTreeMap::new();
    let mut next = 0u64;
    let mut encoder: Option<VideoEncoder> = None;
    let mut timing = Timing::new(&info);
    let mut encoded = Vec::new();
    let mut size = (0, 0);
    let (mut packets_open, mut results_open) = (true, true);
    while packets_open || results_open {
        select! {
            recv(packets) -> message => match message {
                Ok((stream, packet)) => muxer.write_copied(stream, packet)?,
                Err(_) => { packets_open = false; packets = never(); }
            },
            recv(results) -> message => match message {
                Ok((index, pts, duration, image)) => {
                    reorder.insert(index, (pts, duration, image?));
                    while let Some((pts, duration, image)) = reorder.remove(&next) {
                        let encoder = match &mut encoder {
                            Some(e) => e,
                            None => {
                                size = image.dimensions();
                                encoder.insert(open_encoder(&mut muxer, &info, settings, size)?)
                            }
                        };
                        let pts = timing.place(pts, duration);
                        encoder.push(&image, Some(pts), &mut encoded)?;
                        write_video(&mut muxer, &mut timing, &mut encoded)?;
                        next += 1;
                        on_frame(next);
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
    if let Some(encoder) = &mut encoder {
        encoder.finish(&mut encoded)?;
        write_video(&mut muxer, &mut timing, &mut encoded)?;
    }
    muxer.finish()?;
    Ok(VideoSummary {
        frames: next,
        width: size.0,
        height: size.1,
    })
}

fn open_encoder(
    muxer: &mut Muxer,
    info: &VideoInfo,
    settings: &VideoSettings<'_>,
    (width, height): (u32, u32),
) -> Result<VideoEncoder, ProcessError> {
    let target = EncodeTarget {
        width,
        height,
        time_base: info.time_base,
        frame_rate: info.frame_rate,
        sample_aspect_ratio: info.sample_aspect_ratio,
        color: info.color,
        source_format: info.source_format,
        global_header: muxer.wants_global_header(),
    };
    let encoder = VideoEncoder::open(settings.encode, target)?;
    muxer.start(&encoder, info.frame_rate)?;
    Ok(encoder)
}

fn write_video(
    muxer: &mut Muxer,
    timing: &mut Timing,
    encoded: &mut Vec<Packet>,
) -> Result<(), ProcessError> {
    for mut packet in encoded.drain(..) {
        packet.set_duration(timing.duration_of(packet.pts()));
        muxer.write_video(packet)?;
    }
    Ok(())
}
