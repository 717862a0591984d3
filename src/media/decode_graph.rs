//! The decode side's filter graph: the user's filters, then YUV→RGB with the stream's
//! own matrix and range (16 bits a sample for sources deeper than 8); its output
//! geometry.

use ffmpeg_next::format::Pixel;
use ffmpeg_next::{decoder, filter, Rational};

use super::color::ColorInfo;
use super::error::MediaError;
use super::filter_graph::{is_rate, linear_graph, GraphInput};

/// How carefully decoded frames become RGB. Both use the stream's own matrix and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RgbConversion {
    /// Bicubic chroma, full chroma interpolation, accurate rounding: for frames that are
    /// restored and re-encoded, where every level shows.
    Exact,
    /// swscale's bilinear path, about four times cheaper; it truncates where the exact
    /// path rounds, so it reads up to two levels brighter on average: for frames only
    /// looked at (captioned, scored for shot changes).
    Fast,
}

impl RgbConversion {
    fn flags(self) -> &'static str {
        match self {
            Self::Exact => "bicubic+accurate_rnd+full_chroma_int",
            Self::Fast => "bilinear",
        }
    }
}

/// The nominal frame rate: the average when the container knows it, else the base rate.
pub fn pick_frame_rate(average: Rational, base: Rational) -> Rational {
    if is_rate(average) {
        average
    } else if is_rate(base) {
        base
    } else {
        Rational::new(25, 1)
    }
}

/// Whether samples of `format` have more than 8 bits (10-bit H.265, 16-bit FFV1, …).
pub fn is_deep(format: Pixel) -> bool {
    format.descriptor().is_some_and(|descriptor| {
        // SAFETY: a pixel format descriptor is static, and its first component exists
        // for every format that has a descriptor.
        unsafe { (*descriptor.as_ptr()).comp[0].depth > 8 }
    })
}

/// Whether `format` carries an alpha plane (ProRes 4444, PNG or QuickTime RLE in MOV).
pub fn has_alpha(format: Pixel) -> bool {
    format.descriptor().is_some_and(|descriptor| {
        // SAFETY: a pixel format descriptor is static.
        let flags = unsafe { (*descriptor.as_ptr()).flags };
        flags & ffmpeg_next::ffi::AV_PIX_FMT_FLAG_ALPHA as u64 != 0
    })
}

/// The RGB format frames leave the graph in: 16 bits a sample when `deep`.
pub fn rgb_format(deep: bool) -> Pixel {
    if deep {
        Pixel::RGB48LE
    } else {
        Pixel::RGB24
    }
}

/// The user's `filters`, then the conversion to RGB, for frames of `decoder` timed in
/// `time_base` at a nominal `frame_rate`.
///
/// # Errors
/// A filter is missing or the chain is not valid for these frames.
pub fn build_graph(
    decoder: &decoder::Video,
    (time_base, frame_rate): (Rational, Rational),
    sar: Rational,
    filters: &[String],
    color: &ColorInfo,
    (conversion, deep): (RgbConversion, bool),
) -> Result<filter::Graph, MediaError> {
    let mut chain: Vec<String> = filters.to_vec();
    chain.push(format!(
        "scale={}:flags={}",
        color.to_rgb_options(),
        conversion.flags()
    ));
    chain.push(format!(
        "format={}",
        rgb_format(deep).descriptor().map_or("rgb24", |d| d.name())
    ));
    let input = GraphInput {
        width: decoder.width(),
        height: decoder.height(),
        format: decoder.format(),
        time_base,
        frame_rate,
        sample_aspect_ratio: sar,
    };
    linear_graph(input, &chain.join(","), &filters.join(","))
}
