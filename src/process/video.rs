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
use std::path::Path;

use crossbeam_channel::{bounded, never, select, Receiver, Sender};
use ffmpeg_next::Packet;
use image::RgbImage;

use crate::batch::cancel::Cancel;
use crate::media::decode::{DamagePolicy, RgbFrame, SourceItem, VideoInfo, VideoSource};
use crate::media::encode::{EncodeSettings, EncodeTarget, VideoEncoder};
use crate::media::layout::CopyPolicy;
use crate::media::mux::Muxer;
use crate::media::MediaError;
use crate::report::thumbnail::Preview;
use crate::stage::{StageError, StagePool};

use super::output_file::PendingOutput;
use super::timing::Timing;
use super::{FileProgress, ProcessError};

/// Frames in flight per worker: enough to keep workers busy while the decoder or the
/// encoder has a slow frame, few enough to keep memory flat.
const FRAMES_PER_WORKER: usize = 2;

/// Copied packets that may wait for the muxer.
const PACKET_QUEUE: usize = 512;

/// How to process one video.
pub struct VideoSettings<'a> {
    pub pool: &'a StagePool,
    pub encode: &'a EncodeSettings,
    pub policy: CopyPolicy,
    pub damage: DamagePolicy,
    /// ffmpeg muxer name for the output (`matroska`, `mp4`, …).
    pub format: &'a str,
    pub cancel: &'a Cancel,
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
}

struct FrameResult {
    index: u64,
    pts: Option<i64>,
    duration: i64,
    restored: Result<RgbImage, StageError>,
    /// The source frame, kept for the first frame only (the report's "before").
    source: Option<RgbImage>,
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
    let (mut source, layout) =
        VideoSource::open(input, settings.pool.plan().filters(), settings.policy)?;
    source.set_damage_policy(settings.damage);
    let info = source.info();
    progress.length(u64::try_from(info.stream_frames).unwrap_or(0));
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
    let workers = settings.pool.capacity();
    let (frame_tx, frame_rx) = bounded::<(u64, RgbFrame)>(workers * FRAMES_PER_WORKER);
    let (packet_tx, packet_rx) = bounded::<(usize, Packet)>(PACKET_QUEUE);
    let (result_tx, result_rx) = bounded::<FrameResult>(workers * FRAMES_PER_WORKER);

    let summary = std::thread::scope(|scope| {
        let decoder =
            scope.spawn(move || decode_loop(source, &frame_tx, &packet_tx, settings.cancel));
        for _ in 0..workers {
            let frames = frame_rx.clone();
            let results = result_tx.clone();
            scope.spawn(move || infer_loop(settings.pool, &frames, &results));
        }
        drop(frame_rx);
        drop(result_tx);
        let written = write_loop(muxer, info, settings, packet_rx, result_rx, progress);
        let damaged = decoder.join().map_err(|_| ProcessError::ThreadPanicked)?;
        // A decode error (or the interruption) explains a short write better than the
        // writer's own complaint.
        let damaged = damaged?;
        written.map(|summary| VideoSummary { damaged, ..summary })
    })?;
    pending.commit()?;
    if summary.damaged > 0 {
        tracing::warn!(
            "{}: {} frame(s) could not be decoded and were {}",
            input.display(),
            summary.damaged,
            if settings.damage == DamagePolicy::Repeat {
                "replaced by the previous frame"
            } else {
                "left out"
            }
        );
    }
    Ok(summary)
}

/// Reads the source until its end; returns how many frames were damaged.
fn decode_loop(
    mut source: VideoSource,
    frames: &Sender<(u64, RgbFrame)>,
    packets: &Sender<(usize, Packet)>,
    cancel: &Cancel,
) -> Result<u64, ProcessError> {
    let mut index = 0;
    while let Some(item) = source.next_item()? {
        if cancel.is_set() {
            return Err(ProcessError::Interrupted);
        }
        let sent = match item {
            SourceItem::Frame(frame) => {
                index += 1;
                frames.send((index - 1, frame)).is_ok()
            }
            SourceItem::Packet(stream, packet) => packets.send((stream, packet)).is_ok(),
        };
        if !sent {
            // The writer stopped; its error is the one to report.
            break;
        }
    }
    Ok(source.damaged_frames())
}

fn infer_loop(pool: &StagePool, frames: &Receiver<(u64, RgbFrame)>, results: &Sender<FrameResult>) {
    for (index, frame) in frames {
        let restored = pool
            .with(|stages| {
                let mut image = Ok(frame.image.clone());
                for stage in stages.iter_mut() {
                    image = image.and_then(|i| stage.process(&i));
                }
                image
            })
            .and_then(|r| r);
        let failed = restored.is_err();
        let result = FrameResult {
            index,
            pts: frame.pts,
            duration: frame.duration,
            restored,
            source: (index == 0).then_some(frame.image),
        };
        if results.send(result).is_err() || failed {
            return;
        }
    }
}

fn write_loop(
    mut muxer: Muxer,
    info: VideoInfo,
    settings: &VideoSettings<'_>,
    packets: Receiver<(usize, Packet)>,
    results: Receiver<FrameResult>,
    progress: &dyn FileProgress,
) -> Result<VideoSummary, ProcessError> {
    let mut packets = packets;
    let mut results = results;
    let mut reorder: BTreeMap<u64, FrameResult> = BTreeMap::new();
    let mut next = 0u64;
    let mut encoder: Option<VideoEncoder> = None;
    let mut timing = Timing::new(&info);
    let mut encoded = Vec::new();
    let mut size = (0, 0);
    let mut preview = None;
    let (mut packets_open, mut results_open) = (true, true);
    while packets_open || results_open {
        select! {
            recv(packets) -> message => match message {
                Ok((stream, packet)) => muxer.write_copied(stream, packet)?,
                Err(_) => { packets_open = false; packets = never(); }
            },
            recv(results) -> message => match message {
                Ok(result) => {
                    reorder.insert(result.index, result);
                    while let Some(result) = reorder.remove(&next) {
                        let image = result.restored?;
                        if let Some(source) = &result.source {
                            preview = Preview::new(source, &image);
                        }
                        let encoder = match &mut encoder {
                            Some(e) => e,
                            None => {
                                size = image.dimensions();
                                encoder.insert(open_encoder(&mut muxer, &info, settings, size)?)
                            }
                        };
                        let pts = timing.place(result.pts, result.duration);
                        encoder.push(&image, Some(pts), &mut encoded)?;
                        write_video(&mut muxer, &mut timing, &mut encoded)?;
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
    if let Some(encoder) = &mut encoder {
        encoder.finish(&mut encoded)?;
        write_video(&mut muxer, &mut timing, &mut encoded)?;
    }
    muxer.finish()?;
    Ok(VideoSummary {
        frames: next,
        width: size.0,
        height: size.1,
        damaged: 0,
        preview,
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
