//! Adding a caption track to a finished video: the file is copied stream by stream (no
//! re-encode) into a new file with one more SubRip subtitle stream holding the cues.

use std::path::Path;

use ffmpeg_next::format::context::{Input, Output};
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
    let time_bases = copy_streams(&source, &mut target)?;
    let caption_index = add_caption_stream(&mut target, language, title)?;
    copy_chapters(&source, &mut target)?;
    target.set_metadata(source.metadata().to_owned());
    let mut options = Dictionary::new();
    // Keep every timestamp where it is, as the first pass wrote it.
    options.set("avoid_negative_ts", "disabled");
    target
        .write_header_with(options)
        .context(|| "cannot write the container header".into())?;
    write_cues(&mut target, caption_index, cues)?;
    copy_packets(&mut source, &mut target, &time_bases, input)?;
    target
        .write_trailer()
        .context(|| "cannot finish the container".into())
}

/// Adds a stream to `target` for each of `source`'s, with its parameters, time base,
/// metadata, disposition and side data; returns the source time bases by index.
fn copy_streams(source: &Input, target: &mut Output) -> Result<Vec<Rational>, MediaError> {
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
    Ok(time_bases)
}

/// Adds the SubRip caption stream and returns its index.
fn add_caption_stream(
    target: &mut Output,
    language: &str,
    title: &str,
) -> Result<usize, MediaError> {
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
    Ok(track.index())
}

fn copy_chapters(source: &Input, target: &mut Output) -> Result<(), MediaError> {
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
    Ok(())
}

/// Writes each cue as one packet of the caption stream, in milliseconds.
fn write_cues(target: &mut Output, index: usize, cues: &[TimedText]) -> Result<(), MediaError> {
    let time_base = target.stream(index).map_or(MILLIS, |s| s.time_base());
    for cue in cues {
        let mut packet = Packet::copy(cue.text.as_bytes());
        let start = (cue.start * 1000.0).round() as i64;
        let end = (cue.end * 1000.0).round() as i64;
        packet.set_pts(Some(start));
        packet.set_dts(Some(start));
        packet.set_duration((end - start).max(1));
        packet.set_stream(index);
        packet.rescale_ts(MILLIS, time_base);
        packet
            .write_interleaved(target)
            .context(|| "cannot write a caption".into())?;
    }
    Ok(())
}

/// Copies every packet of `source` into the same stream of `target`, timestamps kept.
fn copy_packets(
    source: &mut Input,
    target: &mut Output,
    time_bases: &[Rational],
    input: &Path,
) -> Result<(), MediaError> {
    let mut packet = Packet::empty();
    loop {
        match packet.read(source) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => return Ok(()),
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
            .write_interleaved(target)
            .context(|| "cannot copy a packet".into())?;
    }
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
