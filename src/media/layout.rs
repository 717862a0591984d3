//! What of an input besides the main video goes into the output: copied audio and
//! subtitle streams, container and stream metadata, chapters and video side data
//! (rotation). Gathered once on the decode side and handed to the muxer.

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
            let wanted = match kind {
                media::Type::Audio => policy.audio,
                media::Type::Subtitle => policy.subtitles,
                _ => false,
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
            container_metadata: kept_metadata(input.metadata().iter()),
            video_metadata,
            video_side_data,
            chapters,
            earliest_start,
        }
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
