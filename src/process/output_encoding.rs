//! The encoding of one video output, settled before its input is decoded: the
//! pipeline's encoder in a container that holds it, else the container's own codec
//! when the pipeline leaves the codec to its default, else a refusal of the file; and
//! whether the encoder takes the size of the frames it will be given.

use std::borrow::Cow;

use crate::media::container_codec::{encoder_refusal, own_video_encoder, video_fit, Fit};
use crate::media::decode::VideoInfo;
use crate::media::encode::EncodeSettings;
use crate::media::frame_size::size_refusal;
use crate::media::muxer_format::MuxerFormat;
use crate::media::MediaError;

/// The encoder settings of one output, and a warning when they are not the pipeline's.
#[derive(Debug, Clone)]
pub struct OutputEncoding<'a> {
    pub settings: Cow<'a, EncodeSettings>,
    pub warning: Option<String>,
}

impl<'a> OutputEncoding<'a> {
    /// The pipeline's settings, unchanged.
    #[must_use]
    pub fn unchanged(encode: &'a EncodeSettings) -> Self {
        Self {
            settings: Cow::Borrowed(encode),
            warning: None,
        }
    }
}

/// The encoding of a video output in `format`. `codec_named`: the pipeline names
/// `encode.codec` (rather than leaving it to its default).
///
/// # Errors
/// The container cannot hold the named codec (H.264 in an MPEG program stream through
/// `container: same`), or it cannot hold the default one and has no codec of its own
/// that this ffmpeg encodes.
pub fn output_encoding<'a>(
    encode: &'a EncodeSettings,
    format: &MuxerFormat,
    codec_named: bool,
) -> Result<OutputEncoding<'a>, MediaError> {
    if video_fit(format, &encode.codec) != Fit::Refuses {
        return Ok(OutputEncoding::unchanged(encode));
    }
    let refusal = || MediaError::Unsupported(encoder_refusal(format, &encode.codec));
    if codec_named {
        return Err(refusal());
    }
    let own = own_video_encoder(format).ok_or_else(refusal)?;
    let warning = format!(
        "{format} cannot hold video from the default encoder {}: written with {own}, the \
         container's own codec (set `encode.codec` to choose, or `container: mkv` to keep {})",
        encode.codec, encode.codec
    );
    Ok(OutputEncoding {
        settings: Cow::Owned(EncodeSettings {
            codec: own,
            ..encode.clone()
        }),
        warning: Some(warning),
    })
}

/// Refuses a file whose frames, `source` after the filters at `scale` (and the filters
/// after restoration, `after`, when there are any), have a size the encoder does not
/// take, before anything is decoded, saying how to fix it.
///
/// # Errors
/// The encoder refuses the size (241x135 in 4:2:0 for libx264) but takes it rounded up.
pub fn check_frame_size(
    encode: &EncodeSettings,
    source: &VideoInfo,
    scale: u32,
    after: Option<&VideoInfo>,
) -> Result<(), MediaError> {
    let size = after.map_or((source.width * scale, source.height * scale), |a| {
        (a.width, a.height)
    });
    let Some(refusal) = size_refusal(encode, after.unwrap_or(source), size) else {
        return Ok(());
    };
    let multiple = refusal.multiple;
    let place = if after.is_some() { "last" } else { "first" };
    Err(MediaError::Unsupported(format!(
        "{refusal}; a {place} stage `filter: \"scale=trunc(iw/{multiple})*{multiple}:\
         trunc(ih/{multiple})*{multiple}\"` makes such sizes"
    )))
}
