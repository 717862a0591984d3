//! The decode side's filter graph: the user's filters, then YUV→RGB with the stream's
//! own matrix and range (16 bits a sample for sources deeper than 8); its output
//! geometry; and copying RGB frames out of ffmpeg.

use ffmpeg_next::format::Pixel;
use ffmpeg_next::util::frame::video::Video as VideoFrame;
use ffmpeg_next::{decoder, filter, Rational};
use image::RgbImage;

use super::color::ColorInfo;
use super::error::MediaError;
use super::filter_graph::{linear_graph, node, output_size, GraphInput};
use super::image_io::{Colour, Rgb16Image};

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
    if average.numerator() > 0 && average.denominator() > 0 {
        average
    } else if base.numerator() > 0 && base.denominator() > 0 {
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

pub fn build_graph(
    decoder: &decoder::Video,
    time_base: Rational,
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
        sample_aspect_ratio: sar,
    };
    linear_graph(input, &chain.join(","), &filters.join(","))
}

/// Size and time base of the graph's output.
pub fn sink_geometry(graph: &mut filter::Graph) -> Result<(u32, u32, Rational), MediaError> {
    let (width, height) = output_size(graph)?;
    let time_base = node(graph, "out")?.sink().time_base();
    Ok((width, height, time_base))
}

/// Copies an `rgb24` or `rgb48le` frame into a tightly packed image (swscale rows are
/// padded).
pub fn colour_from(frame: &VideoFrame) -> Result<Colour, MediaError> {
    let (width, height) = (frame.width(), frame.height());
    let stride = frame.stride(0);
    let data = frame.data(0);
    let deep = frame.format() == Pixel::RGB48LE;
    let row_bytes = width as usize * if deep { 6 } else { 3 };
    let inconsistent = || MediaError::Unsupported("decoded frame has an inconsistent size".into());
    if deep {
        let mut samples = Vec::with_capacity(row_bytes / 2 * height as usize);
        for y in 0..height as usize {
            let row = &data[y * stride..y * stride + row_bytes];
            samples.extend(
                row.chunks_exact(2)
                    .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
            );
        }
        Rgb16Image::from_raw(width, height, samples)
            .map(Colour::Sixteen)
            .ok_or_else(inconsistent)
    } else {
        let mut packed = Vec::with_capacity(row_bytes * height as usize);
        for y in 0..height as usize {
            packed.extend_from_slice(&data[y * stride..y * stride + row_bytes]);
        }
        RgbImage::from_raw(width, height, packed)
            .map(Colour::Eight)
            .ok_or_else(inconsistent)
    }
}
