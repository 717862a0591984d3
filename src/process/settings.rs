//! How the files of a run are processed: what is the same for every file (the stage
//! pool, captioners, encoder settings, stream and damage policies, the cancel flag), and
//! the pipeline settings put in the media layer's terms.
//!
//! The media layer takes the pipeline's [`DecodeErrorPolicy`] as it is, and the two
//! [`StreamPolicy`] values as one [`CopyPolicy`] (a flag per stream kind, what the stream
//! layout needs); that translation is here, once.

use std::path::Path;

use crate::cancel::Cancel;
use crate::config::{Container, DecodeErrorPolicy, StreamPolicy, VideoDecoder, XmpOutput};
use crate::media::encode::EncodeSettings;
use crate::media::layout::CopyPolicy;
use crate::media::muxer_format::MuxerFormat;
use crate::metadata::Provenance;
use crate::stage::caption::CaptionPool;
use crate::stage::StagePool;

/// How every file of a run is processed.
pub struct ProcessSettings<'a> {
    /// Restoration instances, shared by all files.
    pub pool: &'a StagePool,
    /// Captioners, when the pipeline ends with a caption stage.
    pub captions: Option<&'a CaptionPool>,
    pub encode: &'a EncodeSettings,
    /// Whether the pipeline names `encode.codec`: when it leaves it to its default, a
    /// container that cannot hold that codec (`container: same` on an `.mpg`) gets its
    /// own instead.
    pub codec_named: bool,
    /// Which of a video's other streams are copied.
    pub copy: CopyPolicy,
    /// What a frame that cannot be decoded does.
    pub damage: DecodeErrorPolicy,
    /// Which decoder reads video.
    pub decoder: VideoDecoder,
    pub cancel: &'a Cancel,
    /// Where outputs' XMP metadata goes, and the run's provenance for it.
    pub xmp: XmpSettings<'a>,
}

/// Where XMP metadata goes, and what the run did, for every output's history.
#[derive(Debug, Clone, Copy)]
pub struct XmpSettings<'a> {
    pub place: XmpOutput,
    pub provenance: &'a Provenance,
}

/// The streams `audio` and `subtitles` say to copy.
#[must_use]
pub fn copy_policy(audio: StreamPolicy, subtitles: StreamPolicy) -> CopyPolicy {
    CopyPolicy {
        audio: audio == StreamPolicy::Copy,
        subtitles: subtitles == StreamPolicy::Copy,
    }
}

/// The muxer that writes the video output `output` of a pipeline with `container`.
#[must_use]
pub fn muxer_for(container: Container, output: &Path) -> MuxerFormat {
    match container {
        Container::Mkv => MuxerFormat::Matroska,
        Container::Mp4 => MuxerFormat::Mp4,
        Container::Same => MuxerFormat::for_extension(
            &output
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    }
}
