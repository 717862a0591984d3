//! What a video's run warns about without failing: what the output cannot keep of the
//! source (known before the first frame) and what the run met on the way (known at the
//! end). Each goes to the log and to the item's entry in the report.

use crate::config::DecodeErrorPolicy;
use crate::media::decode::{Interlacing, VideoInfo};
use crate::media::decode_graph::has_alpha;
use crate::media::encode::pixel_name;
use crate::media::mux::Muxer;
use crate::media::muxer_format::MuxerFormat;

use super::warnings::Warnings;
use super::ProcessSettings;

/// Encoders of this ffmpeg that write a frame's A/53 closed captions into the stream
/// (libx264 as SEI, MPEG-2 as user data, by default); FFmpeg 5.1's libx265 wrapper drops
/// them.
const CAPTION_WRITING_ENCODERS: &[&str] = &["libx264", "mpeg2video"];

/// What the output of `muxer` (a `format` container) will not hold of the source:
/// a rotation, an alpha plane, streams in `left_out`, attachments.
pub(super) fn before_the_run(
    warnings: &mut Warnings<'_>,
    muxer: &Muxer,
    info: &VideoInfo,
    left_out: &[String],
    format: &MuxerFormat,
) {
    if let Some(angle) = muxer.unstorable_rotation() {
        // Not an error: the pictures are all there, only the player's turn is lost.
        warnings.add(format!(
            "its display rotation ({angle}°) cannot be stored in {format} by this ffmpeg, \
             so the output plays unrotated; use `container: same` (or `mp4`) to keep it"
        ));
    }
    if has_alpha(info.source_format) {
        warnings.add(format!(
            "its video has an alpha channel ({}), which is not restored: the output is opaque",
            pixel_name(info.source_format)
        ));
    }
    if !left_out.is_empty() {
        warnings.add(format!(
            "its {} not kept: an output holds the main video, audio, subtitles and \
             attachments",
            if left_out.len() == 1 {
                format!("{} is", left_out[0])
            } else {
                format!("{} are", left_out.join(", "))
            }
        ));
    }
    let attachments = muxer.unstorable_attachments();
    if attachments > 0 {
        warnings.add(format!(
            "its {attachments} attached file(s) (fonts, cover art) cannot be stored in \
             {format}, so the output has none; use `container: mkv` to keep them"
        ));
    }
}

/// What a finished run saw of its frames.
pub(super) struct RunFacts {
    pub frames: u64,
    pub interlacing: Interlacing,
    /// Some frame came with closed captions.
    pub closed_captions: bool,
    pub damaged: u64,
}

/// Interlaced frames fed to a model, closed captions the encoder drops, damaged frames.
pub(super) fn after_the_run(
    warnings: &mut Warnings<'_>,
    facts: &RunFacts,
    settings: &ProcessSettings<'_>,
) {
    let plan = settings.pool.plan();
    if facts.interlacing.frames > 0 && plan.has_frame_stages() {
        // Not an error (some want it), but a model fed woven fields restores the combing
        // as detail.
        warnings.add(format!(
            "{} of {} frame(s) reached the model interlaced ({} field first), so it \
             restores the combing; put `- filter: \"bwdif=mode=send_frame:deint=interlaced\"` \
             before the restore stage to deinterlace them",
            facts.interlacing.frames,
            facts.frames,
            if facts.interlacing.top_field_first {
                "top"
            } else {
                "bottom"
            }
        ));
    }
    let codec = settings.encode.codec.as_str();
    if facts.closed_captions && plan.writes_media() && !CAPTION_WRITING_ENCODERS.contains(&codec) {
        warnings.add(format!(
            "its closed captions are not kept: {codec} does not write them into the stream \
             (libx264 and mpeg2video do)"
        ));
    }
    if facts.damaged > 0 {
        warnings.add(format!(
            "{} frame(s) could not be decoded and were {}",
            facts.damaged,
            if settings.damage == DecodeErrorPolicy::RepeatFrame {
                "replaced by the previous frame"
            } else {
                "left out"
            }
        ));
    }
}
