//! Whether the encoder takes frames of a size, asked before anything is decoded: a
//! filter or a restore stage that makes sizes the encoder refuses (241×135 for libx264
//! in yuv420p) is found at load, or when the file is opened, instead of failing on the
//! first frame of every file.
//!
//! A size that does not fit the pixel format's chroma subsampling (an odd width in
//! 4:2:0) is put to the encoder itself (opened and closed again), so its own rules
//! count, not a guess at them; a refusal counts as the size's fault only when the same
//! settings are taken at the size rounded up to a small multiple. Sizes that fit the
//! subsampling are taken without asking: opening an encoder costs (SVT-AV1 starts dozens
//! of threads), and FFmpeg 5.1's SVT-AV1 wrapper hangs when an encoder that never got a
//! frame is closed, so that one is never asked.

use std::fmt;

use ffmpeg_next::format::Pixel;
use ffmpeg_next::util::color;
use ffmpeg_next::Rational;

use super::color::ColorInfo;
use super::decode::VideoInfo;
use super::encode::{encode_target, pixel_name, resolve_encoder, try_open, EncodeSettings};

/// The multiples a refused size is rounded up to, smallest first.
const MULTIPLES: [u32; 4] = [2, 4, 8, 16];

/// An encoder's refusal of a frame size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeRefusal {
    /// The encoder.
    pub codec: String,
    /// The refused width and height.
    pub size: (u32, u32),
    /// The pixel format the frames were to be encoded in.
    pub pixel_format: &'static str,
    /// Sizes whose sides are multiples of this are taken.
    pub multiple: u32,
    /// ffmpeg's reason, when it logged one.
    pub reason: Option<String>,
}

impl fmt::Display for SizeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (width, height) = self.size;
        write!(
            f,
            "{} cannot encode {width}x{height} frames in {}",
            self.codec, self.pixel_format
        )?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        write!(
            f,
            "; it takes widths and heights that are multiples of {}",
            self.multiple
        )
    }
}

/// Why `settings`' encoder will not take frames of `source` at `size`, when the size is
/// at fault; `None` when it takes them, or when it refuses for another reason (which
/// opening the encoder for real then reports).
pub fn size_refusal(
    settings: &EncodeSettings,
    source: &VideoInfo,
    size: (u32, u32),
) -> Option<SizeRefusal> {
    let (codec, format) = resolve_encoder(settings, source.source_format).ok()?;
    let chroma = format.descriptor().map_or((1, 1), |d| {
        (1u32 << d.log2_chroma_w(), 1u32 << d.log2_chroma_h())
    });
    if size.0.is_multiple_of(chroma.0) && size.1.is_multiple_of(chroma.1) {
        return None;
    }
    if settings.codec == "libsvtav1" {
        return Some(SizeRefusal {
            codec: settings.codec.clone(),
            size,
            pixel_format: pixel_name(format),
            multiple: chroma.0.max(chroma.1),
            reason: None,
        });
    }
    let opens = |size| {
        try_open(
            settings,
            codec,
            format,
            &encode_target(source, size, format),
            false,
        )
    };
    let (opened, reason) = opens(size);
    if opened.is_ok() {
        return None;
    }
    let multiple = MULTIPLES.into_iter().find(|&multiple| {
        let rounded = (round_up(size.0, multiple), round_up(size.1, multiple));
        rounded != size && opens(rounded).0.is_ok()
    })?;
    Some(SizeRefusal {
        codec: settings.codec.clone(),
        size,
        pixel_format: pixel_name(format),
        multiple,
        reason,
    })
}

/// A source to judge sizes against before any file is opened: 8-bit 4:2:0 at 25 fps
/// with square pixels, what most inputs are (and what the encoder's choice of pixel
/// format is judged with when the pipeline names none).
#[must_use]
pub fn typical_source((width, height): (u32, u32)) -> VideoInfo {
    VideoInfo {
        width,
        height,
        time_base: Rational::new(1, 25),
        frame_rate: Rational::new(25, 1),
        sample_aspect_ratio: Rational::new(1, 1),
        color: ColorInfo::from_stream(
            color::Space::Unspecified,
            color::Range::Unspecified,
            color::Primaries::Unspecified,
            color::TransferCharacteristic::Unspecified,
            Pixel::YUV420P,
            height,
        ),
        source_format: Pixel::YUV420P,
        deep: false,
        expected_frames: 0,
        end_time: None,
        display_rotation: 0.0,
    }
}

/// `value` rounded up to a multiple of `multiple`.
fn round_up(value: u32, multiple: u32) -> u32 {
    value.div_ceil(multiple) * multiple
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(codec: &str) -> EncodeSettings {
        EncodeSettings {
            codec: codec.to_owned(),
            crf: None,
            preset: None,
            pixel_format: None,
            threads: 1,
            large_frame_threads: 0,
        }
    }

    #[test]
    fn odd_sizes_are_refused_by_x264_in_4_2_0_and_taken_by_ffv1() {
        let source = typical_source((241, 135));
        let refusal = size_refusal(&settings("libx264"), &source, (241, 135));
        assert_eq!(
            refusal.map(|r| r.to_string()),
            Some(
                "libx264 cannot encode 241x135 frames in yuv420p (width not divisible by 2 \
                 (241x135)); it takes widths and heights that are multiples of 2"
                    .to_owned()
            )
        );
        assert_eq!(
            size_refusal(&settings("libx264"), &source, (242, 136)),
            None
        );
        assert_eq!(size_refusal(&settings("ffv1"), &source, (241, 135)), None);
    }

    #[test]
    fn a_refusal_that_is_not_about_the_size_is_left_to_the_real_open() {
        // DNxHD takes only its own sizes and bit rates: rounding does not help.
        let source = typical_source((241, 135));
        assert_eq!(size_refusal(&settings("dnxhd"), &source, (241, 135)), None);
    }
}
