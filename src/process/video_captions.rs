//! The captions of a video: sampled frames are captioned in batches while the video
//! runs; at the end the samples become cues, which go into the output as a subtitle
//! track (Matroska only) and into the caption files.

use std::path::{Path, PathBuf};

use crossbeam_channel::{bounded, Receiver};
use ndarray::Array3;

use crate::caption::cues::{cues_from_samples, Cue, Sample};
use crate::media::muxer_format::MuxerFormat;
use crate::media::subtitle_mux::{add_caption_track, TimedText};
use crate::output_file::PendingOutput;
use crate::stage::caption::{CaptionPool, CaptionSetup};

use super::caption_files::{caption_base, write_video_captions};
use super::video::VideoOutput;
use super::video_writer::Written;
use super::warnings::Warnings;
use super::ProcessError;

/// Captions sampled frames in batches as they arrive, as many batches at once as the
/// caption pool has captioners, so a lone video keeps every core busy.
pub(super) fn caption_loop(
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

/// Turns the samples into cues, muxes them into the output as a subtitle track when the
/// pipeline asks and the container can, and writes the caption files; returns the cues
/// and the files written.
pub(super) fn finish_captions(
    input: &Path,
    output: &VideoOutput<'_>,
    pending: Option<&PendingOutput>,
    setup: &CaptionSetup,
    (samples, written): (&[Sample], &Written),
    warnings: &mut Warnings<'_>,
) -> Result<(Vec<Cue>, Vec<PathBuf>), ProcessError> {
    let start = written.first_time;
    let cues = cues_from_samples(
        &samples
            .iter()
            .map(|s| Sample {
                at: s.at - start,
                ..s.clone()
            })
            .collect::<Vec<_>>(),
        (written.end_time - start).max(0.0),
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
