//! Adding a caption track to a finished video: the file is copied stream by stream (no
//! re-encode) into a new file with one more SubRip subtitle stream holding the cues.

use std::path::Path;

use ffmpeg_next::{codec, encoder, media, Dictionary, Packet, Rational};

use super::error::{FfmpegContext, MediaError};

/// A cue in absolute presentation time (seconds).
#[derive(Debug, Clone)]
pub struct TimedText {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// Millisecond time base of the added track.
const MILLIS: Rational = Rational(1, 1000);

/// Copies `input` into `output` (muxer `format`) with a SubRip track of `cues`, tagged
/// with `language` and `title`.
///
/// # Errors
/// Either file cannot be opened or written.
pub fn add_caption_track(
    input: &Path,
    output: &Path,
    format: &str,
    cues: &[TimedText],
    language: &str,
    title: &str,
) -> Result<(), MediaError> {
    super::init();
    let mut source = ffmpeg_next::format::input(&input)
        .context(|| format!("cannot reopen {}", input.display()))?;
    let mut target = ffmpeg_next::format::output_as(&output, format)
        .context(|| format!("cannot create {} as {format}", output.display()))?;
    let mut time_bases = Vec::new();
    for stream in source.streams() {
        let mut copy = target
            .add_stream(encoder::find(codec::Id::None))
            .context(|| "cannot add a stream".into())?;
        copy.set_parameters(stream.parameters());
        copy.set_time_base(stream.time_base());
        copy.set_metadata(stream.metadata().to_owned());
        // SAFETY: the stream was just added to this context and is not shared.
        unsafe {
            let raw = copy.as_mut_ptr();
            (*(*raw).codecpar).codec_tag = 0;
            (*raw).disposition = stream.disposition().bits();
            copy_side_data(stream.as_ptr(), raw);
        }
        time_bases.push(stream.time_base());
    }
    let caption_index = {
        let mut track = target
            .add_stream(encoder::find(codec::Id::None))
            .context(|| "cannot add the caption stream".into())?;
        // SAFETY: as above; a text subtitle stream needs only its type and codec.
        unsafe {
            let parameters = (*track.as_mut_ptr()).codecpar;
            (*parameters).codec_type = media::Type::Subtitle.into();
            (*parameters).codec_id = codec::Id::SUBRIP.into();
        }
        track.set_time_base(MILLIS);
        let mut metadata = Dictionary::new();
        metadata.set("language", language);
        metadata.set("title", title);
        track.set_metadata(metadata);
        track.index()
    };
    for chapter in source.chapters() {
        let title = chapter
            .metadata()
            .get("title")
            .map(str::to_string)
            .unwrap_or_default();
        target
            .add_chapter(
                chapter.id(),
                chapter.time_base(),
                chapter.start(),
                chapter.end(),
                title,
            )
            .context(|| "cannot copy a chapter".into())?;
    }
    target.set_metadata(source.metadata().to_owned());
    let mut options = Dictionary::new();
    // Keep every timestamp where it is, as the first pass wrote it.
    options.set("avoid_negative_ts", "disabled");
    target
        .write_header_with(options)
        .context(|| "cannot write the container header".into())?;
    let caption_time_base = target
        .stream(caption_index)
        .map_or(MILLIS, |s| s.time_base());
    for cue in cues {
        let mut packet = Packet::copy(cue.text.as_bytes());
        let start = (cue.start * 1000.0).round() as i64;
        let end = (cue.end * 1000.0).round() as i64;
        packet.set_pts(Some(start));
        packet.set_dts(Some(start));
        packet.set_duration((end - start).max(1));
        packet.set_stream(caption_index);
        packet.rescale_ts(MILLIS, caption_time_base);
        packet
            .write_interleaved(&mut target)
            .context(|| "cannot write a caption".into())?;
    }
    let mut packet = Packet::empty();
    loop {
        match packet.read(&mut source) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) => {
                return Err(MediaError::Ffmpeg {
                    context: format!("cannot read {}", input.display()),
                    source: e,
                })
            }
        }
        let index = packet.stream();
        let out_time_base = target.stream(index).map_or(MILLIS, |s| s.time_base());
        packet.rescale_ts(time_bases[index], out_time_base);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut target)
            .context(|| "cannot copy a packet".into())?;
    }
    target
        .write_trailer()
        .context(|| "cannot finish the container".into())
}

/// Copies stream side data (the display matrix that carries rotation, for example).
///
/// # Safety
/// Both pointers must be valid streams; `to` must belong to a context being set up.
unsafe fn copy_side_data(
    from: *const ffmpeg_next::ffi::AVStream,
    to: *mut ffmpeg_next::ffi::AVStream,
) {
    let count = usize::try_from((*from).nb_side_data).unwrap_or(0);
    for i in 0..count {
        let item = &*(*from).side_data.add(i);
        let target = ffmpeg_next::ffi::av_stream_new_side_data(to, item.type_, item.size);
        if !target.is_null() {
            std::ptr::copy_nonoverlapping(item.data, target, item.size);
        }
    }
}
