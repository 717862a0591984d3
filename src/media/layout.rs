//! What of an input besides the main video goes into the output: copied audio and
//! subtitle streams, attachments (a Matroska file's fonts and cover art), container and
//! stream metadata, chapters and video side data (rotation). Gathered once on the decode
//! side and handed to the muxer.

use std::collections::HashMap;

use ffmpeg_next::codec::packet::side_data::Type as SideDataType;
use ffmpeg_next::format::context::Input;
use ffmpeg_next::{codec, media, Rational};

/// Metadata keys that describe the old encode, not the content; the muxer writes its own.
const STALE_KEYS: &[&str] = &[
    "encoder",
    "duration",
    "number_of_frames",
    "number_of_bytes",
    "bps",
];

/// A stream copied as it is.
pub struct CopiedStream {
    pub input_index: usize,
    pub kind: media::Type,
    pub parameters: codec::Parameters,
    pub time_base: Rational,
    pub metadata: Vec<(String, String)>,
    /// `AV_DISPOSITION_*` bits (default, forced, hearing impaired…).
    pub disposition: i32,
}

/// An attached file (a font for styled subtitles, cover art): its bytes are the
/// stream's extradata, its name and MIME type the stream's `filename` and `mimetype`
/// tags. It has no packets.
pub struct Attachment {
    pub parameters: codec::Parameters,
    pub metadata: Vec<(String, String)>,
}

/// A chapter mark.
#[derive(Debug, Clone)]
pub struct Chapter {
    pub id: i64,
    pub time_base: Rational,
    pub start: i64,
    pub end: i64,
    pub title: Option<String>,
}

/// Everything the muxer needs from the input.
pub struct StreamLayout {
    pub copied: Vec<CopiedStream>,
    pub attachments: Vec<Attachment>,
    /// Streams of the input the output has no place for (a second video, telemetry
    /// data), described as `video stream 2 (h264)`; streams the pipeline drops on
    /// purpose (`audio: drop`) are not listed.
    pub left_out: Vec<String>,
    pub container_metadata: Vec<(String, String)>,
    pub video_metadata: Vec<(String, String)>,
    pub video_side_data: Vec<(SideDataType, Vec<u8>)>,
    pub chapters: Vec<Chapter>,
    /// The earliest start time, in seconds, of the streams that go into the output
    /// (`None` when no stream says).
    pub earliest_start: Option<f64>,
}

/// Which stream kinds to copy.
#[derive(Debug, Clone, Copy)]
pub struct CopyPolicy {
    pub audio: bool,
    pub subtitles: bool,
}

impl StreamLayout {
    /// Reads the layout of `input` around its main video stream.
    pub fn from_input(input: &Input, video_index: usize, policy: CopyPolicy) -> Self {
        let mut copied = Vec::new();
        let mut attachments = Vec::new();
        let mut left_out = Vec::new();
        let mut video_metadata = Vec::new();
        let mut video_side_data = Vec::new();
        let mut earliest_start: Option<f64> = None;
        let mut note_start = |stream: &ffmpeg_next::format::stream::Stream<'_>| {
            if stream.start_time() != ffmpeg_next::ffi::AV_NOPTS_VALUE {
                let start = stream.start_time() as f64 * f64::from(stream.time_base());
                earliest_start = Some(earliest_start.map_or(start, |e| e.min(start)));
            }
        };
        for stream in input.streams() {
            if stream.index() == video_index {
                note_start(&stream);
                video_metadata = kept_metadata(stream.metadata().iter());
                video_side_data = stream
                    .side_data()
                    .map(|sd| (sd.kind(), sd.data().to_vec()))
                    .collect();
                continue;
            }
            let kind = stream.parameters().medium();
            if kind == media::Type::Attachment {
                attachments.push(Attachment {
                    parameters: stream.parameters(),
                    metadata: kept_metadata(stream.metadata().iter()),
                });
                continue;
            }
            if let Some(picture) = attached_picture(&stream) {
                attachments.push(picture);
                continue;
            }
            let wanted = match kind {
                media::Type::Audio => policy.audio,
                media::Type::Subtitle => policy.subtitles,
                _ => {
                    if !is_timecode_track(&stream) {
                        left_out.push(describe(&stream));
                    }
                    false
                }
            };
            if wanted {
                note_start(&stream);
                copied.push(CopiedStream {
                    input_index: stream.index(),
                    kind,
                    parameters: stream.parameters(),
                    time_base: stream.time_base(),
                    metadata: kept_metadata(stream.metadata().iter()),
                    disposition: stream.disposition().bits(),
                });
            }
        }
        let chapters = input
            .chapters()
            .map(|c| Chapter {
                id: c.id(),
                time_base: c.time_base(),
                start: c.start(),
                end: c.end(),
                title: c.metadata().get("title").map(str::to_string),
            })
            .collect();
        Self {
            copied,
            attachments,
            left_out,
            container_metadata: kept_metadata(input.metadata().iter()),
            video_metadata,
            video_side_data,
            chapters,
            earliest_start,
        }
    }

    /// The display rotation of the video (degrees counter-clockwise, as ffprobe prints
    /// it), when its display matrix turns the picture; `None` when it is upright.
    pub fn display_rotation(&self) -> Option<f64> {
        self.video_side_data
            .iter()
            .find(|(kind, data)| *kind == SideDataType::DisplayMatrix && data.len() >= 36)
            .map(|(_, data)| {
                // SAFETY: a display matrix is nine 32-bit integers; the length is checked
                // above and read_unaligned copies them out of the byte buffer.
                let matrix: [i32; 9] = unsafe { std::ptr::read_unaligned(data.as_ptr().cast()) };
                // SAFETY: `matrix` is a valid 3×3 display matrix for the call's duration.
                unsafe { ffmpeg_next::ffi::av_display_rotation_get(matrix.as_ptr()) }
            })
            .filter(|angle| angle.is_finite() && angle.abs() > 0.5)
    }

    /// Map from input stream index to the copied stream's position in `copied`.
    pub fn copied_positions(&self) -> HashMap<usize, usize> {
        self.copied
            .iter()
            .enumerate()
            .map(|(pos, s)| (s.input_index, pos))
            .collect()
    }
}

/// `video stream 2 (h264)`, as a warning names a stream.
fn describe(stream: &ffmpeg_next::format::stream::Stream<'_>) -> String {
    let parameters = stream.parameters();
    let kind = match parameters.medium() {
        media::Type::Video => "video",
        media::Type::Audio => "audio",
        media::Type::Subtitle => "subtitle",
        _ => "data",
    };
    let codec = match parameters.id() {
        codec::Id::None => codec_tag(&parameters),
        id => id.name().to_string(),
    };
    format!("{kind} stream {} ({codec})", stream.index())
}

/// The four-character tag of a stream whose codec ffmpeg does not know (`gpmd`).
fn codec_tag(parameters: &codec::Parameters) -> String {
    // SAFETY: reading a plain field of valid parameters.
    let tag = unsafe { (*parameters.as_ptr()).codec_tag };
    let text: String = tag
        .to_le_bytes()
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect();
    if tag == 0 {
        "unknown".into()
    } else {
        text
    }
}

/// A QuickTime timecode track: its start time is kept as the video's `timecode` tag
/// (and rewritten as a track by the mov muxer), so leaving the track out loses nothing.
fn is_timecode_track(stream: &ffmpeg_next::format::stream::Stream<'_>) -> bool {
    codec_tag(&stream.parameters()) == "tmcd"
}

/// A picture attached to the file (cover art; an image attachment of a Matroska file,
/// which ffmpeg reads as a one-picture video stream) as an attachment whose bytes are
/// the picture's.
fn attached_picture(stream: &ffmpeg_next::format::stream::Stream<'_>) -> Option<Attachment> {
    if !stream
        .disposition()
        .contains(ffmpeg_next::format::stream::Disposition::ATTACHED_PIC)
    {
        return None;
    }
    // SAFETY: `attached_pic` is a packet the demuxer owns for the life of the input;
    // its bytes are copied out before this borrow ends.
    let bytes = unsafe {
        let packet = &(*stream.as_ptr()).attached_pic;
        let size = usize::try_from(packet.size).ok()?;
        if packet.data.is_null() || size == 0 {
            return None;
        }
        std::slice::from_raw_parts(packet.data, size).to_vec()
    };
    let size = i32::try_from(bytes.len()).ok()?;
    let mut parameters = codec::Parameters::new();
    // SAFETY: `parameters` owns a fresh AVCodecParameters; the extradata buffer is
    // allocated with av_mallocz (padded as ffmpeg requires) and handed over to it.
    unsafe {
        let raw = parameters.as_mut_ptr();
        (*raw).codec_type = ffmpeg_next::ffi::AVMediaType::AVMEDIA_TYPE_ATTACHMENT;
        (*raw).codec_id = (*stream.parameters().as_ptr()).codec_id;
        let padded = bytes.len() + ffmpeg_next::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
        let buffer = ffmpeg_next::ffi::av_mallocz(padded).cast::<u8>();
        if buffer.is_null() {
            return None;
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buffer, bytes.len());
        (*raw).extradata = buffer;
        (*raw).extradata_size = size;
    }
    let mut metadata = kept_metadata(stream.metadata().iter());
    // An MP4's cover art has no name; Matroska needs one and a MIME type for it.
    let has = |metadata: &[(String, String)], key: &str| {
        metadata.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
    };
    if !has(&metadata, "filename") || !has(&metadata, "mimetype") {
        let (name, mime) = match stream.parameters().id() {
            codec::Id::PNG => ("cover.png", "image/png"),
            codec::Id::MJPEG => ("cover.jpg", "image/jpeg"),
            codec::Id::BMP => ("cover.bmp", "image/bmp"),
            codec::Id::WEBP => ("cover.webp", "image/webp"),
            _ => return None,
        };
        metadata.retain(|(k, _)| {
            !k.eq_ignore_ascii_case("filename") && !k.eq_ignore_ascii_case("mimetype")
        });
        metadata.push(("filename".into(), name.into()));
        metadata.push(("mimetype".into(), mime.into()));
    }
    Some(Attachment {
        parameters,
        metadata,
    })
}

fn kept_metadata<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    entries
        .filter(|(key, _)| {
            // Matroska suffixes statistics tags with a language: `BPS-eng`.
            let lower = key.to_ascii_lowercase();
            let base = lower.split('-').next().unwrap_or_default();
            !STALE_KEYS.contains(&base) && !lower.starts_with("_statistics")
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
