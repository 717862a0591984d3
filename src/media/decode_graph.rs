//! The decode side's filter graph: the user's filters, then YUV→RGB with the stream's
//! own matrix and range (16 bits a sample for sources deeper than 8); its output
//! geometry; and copying RGB frames out of ffmpeg.

use ffmpeg_next::format::Pixel;
use ffmpeg_next::util::frame::video::Video as VideoFrame;
use ffmpeg_next::{decoder, filter, Rational};
use image::RgbImage;

use super::color::ColorInfo;
use super::error::MediaError;
use super::filter_graph::{is_rate, linear_graph, node, GraphInput};
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

/// What a configured graph hands out.
#[derive(Debug, Clone, Copy)]
pub struct SinkFormat {
    pub width: u32,
    pub height: u32,
    /// Time base of the frames' timestamps.
    pub time_base: Rational,
    /// Their rate, as the last filter states it; `None` when it is unknown or variable.
    pub frame_rate: Option<Rational>,
}

/// Size, time base and frame rate of the graph's output.
///
/// # Errors
/// Never for graphs made by [`build_graph`]; reported rather than assumed.
pub fn sink_format(graph: &mut filter::Graph) -> Result<SinkFormat, MediaError> {
    let mut sink = node(graph, "out")?;
    // SAFETY: `sink` is a configured buffersink of a validated graph.
    let (w, h, rate) = unsafe {
        (
            ffmpeg_next::ffi::av_buffersink_get_w(sink.as_ptr()),
            ffmpeg_next::ffi::av_buffersink_get_h(sink.as_ptr()),
            ffmpeg_next::ffi::av_buffersink_get_frame_rate(sink.as_ptr()),
        )
    };
    let frame_rate = Rational::from(rate);
    Ok(SinkFormat {
        width: u32::try_from(w).unwrap_or_default(),
        height: u32::try_from(h).unwrap_or_default(),
        time_base: sink.sink().time_base(),
        frame_rate: is_rate(frame_rate).then_some(frame_rate),
    })
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
