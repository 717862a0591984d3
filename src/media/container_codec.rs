//! Which video codecs a container holds, asked before a file is decoded.
//!
//! `container: same` keeps each input's container, and several hold only some codecs:
//! WebM takes VP8, VP9 and AV1; an MPEG program stream (`.mpg`, `.vob`) takes MPEG-1 and
//! MPEG-2 video. ffmpeg's `avformat_query_codec` answers for muxers with codec tables;
//! the MPEG muxers answer nothing, so what they hold is written down here. (ffmpeg's
//! program-stream muxer does write H.264, but with non-monotonic DTS and a start time
//! moved from the source's: a file players stumble on.)

use ffmpeg_next::codec::Id;
use ffmpeg_next::encoder;

use super::muxer_format::MuxerFormat;

/// Containers, as the pipeline names them, that a refused stream may fit instead.
const ALTERNATIVE_CONTAINERS: &[(&str, &str)] = &[("matroska", "mkv"), ("mp4", "mp4")];

/// MPEG program-stream muxers (DVD, SVCD, VCD and plain MPEG-PS).
const PROGRAM_STREAM_MUXERS: &[&str] = &["vob", "mpeg", "dvd", "svcd", "vcd"];

/// The video a program stream holds as its standards define it.
const PROGRAM_STREAM_VIDEO: &[Id] = &[Id::MPEG1VIDEO, Id::MPEG2VIDEO];

/// The video codecs the MPEG transport stream muxer has stream types for.
const TRANSPORT_STREAM_VIDEO: &[Id] = &[
    Id::MPEG1VIDEO,
    Id::MPEG2VIDEO,
    Id::MPEG4,
    Id::H264,
    Id::HEVC,
    Id::CAVS,
    Id::DIRAC,
    Id::VC1,
];

/// What a container says about holding a codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Holds,
    Refuses,
    /// The muxer does not say; writing its header decides.
    Unknown,
}

/// Whether `muxer` holds video from encoder `encoder` (an unknown encoder is left to
/// the encoder's own check).
#[must_use]
pub fn video_fit(muxer: &MuxerFormat, encoder: &str) -> Fit {
    super::init();
    match encoder::find_by_name(encoder) {
        Some(codec) => video_codec_fit(muxer.name(), codec.id()),
        None => Fit::Unknown,
    }
}

/// Whether the muxer called `muxer` holds video codec `id`.
pub(crate) fn video_codec_fit(muxer: &str, id: Id) -> Fit {
    if PROGRAM_STREAM_MUXERS.contains(&muxer) {
        return fit_if(PROGRAM_STREAM_VIDEO.contains(&id));
    }
    if muxer == "mpegts" {
        return fit_if(TRANSPORT_STREAM_VIDEO.contains(&id));
    }
    stream_fit(muxer, id)
}

/// What the muxer called `muxer` says about holding a stream of codec `id` (audio,
/// subtitles or video).
pub(crate) fn stream_fit(muxer: &str, id: Id) -> Fit {
    let Some(format) = output_format(muxer) else {
        return Fit::Unknown;
    };
    // Asked at the unofficial level, Matroska admits any audio or video codec through its
    // VFW/ACM mapping (UT Video, HuffYUV, PNG: lossless intermediates editors read), as
    // `ffmpeg -c:v utvideo out.mkv` writes them; at the normal level it says no. The other
    // muxers answer from their tag tables either way.
    // SAFETY: `format` is static data of libavformat.
    let verdict = unsafe {
        ffmpeg_next::ffi::avformat_query_codec(
            format,
            id.into(),
            ffmpeg_next::ffi::FF_COMPLIANCE_UNOFFICIAL,
        )
    };
    match verdict {
        0 => Fit::Refuses,
        v if v > 0 => Fit::Holds,
        _ => Fit::Unknown,
    }
}

fn fit_if(holds: bool) -> Fit {
    if holds {
        Fit::Holds
    } else {
        Fit::Refuses
    }
}

/// The encoder of `muxer`'s own video codec (MPEG-2 for a program stream, VP9 for
/// WebM), when this ffmpeg has one.
#[must_use]
pub fn own_video_encoder(muxer: &MuxerFormat) -> Option<String> {
    super::init();
    let format = output_format(muxer.name())?;
    // SAFETY: `format` is static data of libavformat.
    let id = Id::from(unsafe { (*format).video_codec });
    let codec = encoder::find(id)?;
    (video_codec_fit(muxer.name(), id) == Fit::Holds).then(|| codec.name().to_string())
}

/// [`video_refusal`] for the codec of encoder `encoder`.
#[must_use]
pub fn encoder_refusal(muxer: &MuxerFormat, encoder: &str) -> String {
    let id = encoder::find_by_name(encoder).map_or(Id::None, |codec| codec.id());
    video_refusal(muxer, id)
}

/// Why `muxer` cannot hold video codec `id`, with what to use instead: the container's
/// own codec and containers that hold `id`.
#[must_use]
pub fn video_refusal(muxer: &MuxerFormat, id: Id) -> String {
    let mut advice: Vec<String> = own_video_encoder(muxer)
        .map(|own| format!("`codec: {own}`"))
        .into_iter()
        .collect();
    advice.extend(other_containers_for(muxer.name(), id));
    format!(
        "video codec {} cannot be stored in {muxer}{}",
        id.name(),
        advice_text(&advice)
    )
}

/// `; use A, B or C`, or nothing without advice.
pub(crate) fn advice_text(advice: &[String]) -> String {
    match advice {
        [] => String::new(),
        [only] => format!("; use {only}"),
        [first @ .., last] => format!("; use {} or {last}", first.join(", ")),
    }
}

/// `container: NAME` advice for the containers other than `muxer` that can store
/// `codec` (so mov_text is never sent back to the `container: mkv` that refused it).
pub(crate) fn other_containers_for(muxer: &str, codec: Id) -> Vec<String> {
    other_containers_for_all(muxer, &[codec])
}

/// [`other_containers_for`] every one of `codecs`.
pub(crate) fn other_containers_for_all(muxer: &str, codecs: &[Id]) -> Vec<String> {
    ALTERNATIVE_CONTAINERS
        .iter()
        .filter(|(candidate, _)| {
            *candidate != muxer && codecs.iter().all(|&id| accepts(candidate, id))
        })
        .map(|(_, name)| format!("`container: {name}`"))
        .collect()
}

/// Whether the muxer called `muxer` can store codec `id` at the normal level.
fn accepts(muxer: &str, id: Id) -> bool {
    output_format(muxer).is_some_and(|format| {
        // SAFETY: `format` is static data of libavformat.
        unsafe {
            ffmpeg_next::ffi::avformat_query_codec(
                format,
                id.into(),
                ffmpeg_next::ffi::FF_COMPLIANCE_NORMAL,
            ) > 0
        }
    })
}

/// libavformat's muxer called `name`.
fn output_format(name: &str) -> Option<*const ffmpeg_next::ffi::AVOutputFormat> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: av_guess_format only reads the name; the returned format is static.
    let format = unsafe {
        ffmpeg_next::ffi::av_guess_format(name.as_ptr(), std::ptr::null(), std::ptr::null())
    };
    (!format.is_null()).then_some(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_streams_hold_mpeg_video_only() {
        let vob = MuxerFormat::for_extension("mpg");
        assert_eq!(video_fit(&vob, "mpeg2video"), Fit::Holds);
        assert_eq!(video_fit(&vob, "libx264"), Fit::Refuses);
        assert_eq!(own_video_encoder(&vob).as_deref(), Some("mpeg2video"));
        assert_eq!(
            video_refusal(&vob, Id::H264),
            "video codec h264 cannot be stored in vob; use `codec: mpeg2video`, \
             `container: mkv` or `container: mp4`"
        );
    }

    #[test]
    fn muxers_with_codec_tables_answer_for_themselves() {
        let webm = MuxerFormat::for_extension("webm");
        assert_eq!(video_fit(&webm, "libx264"), Fit::Refuses);
        assert_eq!(video_fit(&webm, "libvpx-vp9"), Fit::Holds);
        assert_eq!(
            video_fit(&MuxerFormat::for_extension("ts"), "libx264"),
            Fit::Holds
        );
        assert_eq!(
            video_fit(&MuxerFormat::for_extension("avi"), "libx265"),
            Fit::Refuses
        );
        assert_eq!(video_fit(&MuxerFormat::Matroska, "utvideo"), Fit::Holds);
        // Raw DV says nothing; its header decides.
        assert_eq!(
            video_fit(&MuxerFormat::for_extension("dv"), "libx264"),
            Fit::Unknown
        );
    }
}
