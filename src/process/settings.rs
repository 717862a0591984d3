//! How the files of a run are processed: what is the same for every file (the stage
//! pool, captioners, encoder settings, stream and damage policies, the cancel flag), and
//! the pipeline settings put in the media layer's terms.
//!
//! The media layer keeps two policy types of its own rather than taking the pipeline's
//! [`StreamPolicy`] and [`DecodeErrorPolicy`]: [`CopyPolicy`] (one flag per stream
//! kind, what the stream layout needs) and [`DamagePolicy`] (named for what the decoder
//! does with a broken frame). Both are part of `media::decode`'s opening API, which
//! tests and benches call without a pipeline, and media depends on nothing else in the
//! crate. The translation from the pipeline's words is here, once.

use std::path::Path;

use crate::cancel::Cancel;
use crate::config::{Container, DecodeErrorPolicy, StreamPolicy};
use crate::media::decode::DamagePolicy;
use crate::media::encode::EncodeSettings;
use crate::media::layout::CopyPolicy;
use crate::media::muxer_format::MuxerFormat;
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
    pub damage: DamagePolicy,
    pub cancel: &'a Cancel,
}

/// The streams `audio` and `subtitles` say to copy.
#[must_use]
pub fn copy_policy(audio: StreamPolicy, subtitles: StreamPolicy) -> CopyPolicy {
    CopyPolicy {
        audio: audio == StreamPolicy::Copy,
        subtitles: subtitles == StreamPolicy::Copy,
    }
}

impl From<DecodeErrorPolicy> for DamagePolicy {
    fn from(policy: DecodeErrorPolicy) -> Self {
        match policy {
            DecodeErrorPolicy::Fail => DamagePolicy::Fail,
            DecodeErrorPolicy::SkipFrame => DamagePolicy::Skip,
            DecodeErrorPolicy::RepeatFrame => DamagePolicy::Repeat,
        }
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
