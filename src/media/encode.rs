//! Encoding restored RGB frames: conversion back to YUV with the source's colour matrix
//! (tagged on the output so players agree), then the chosen video encoder.

use std::str::FromStr;

use ffmpeg_next::format::Pixel;
use ffmpeg_next::util::frame::video::Video as VideoFrame;
use ffmpeg_next::{codec, encoder, filter, Dictionary, Packet, Rational, Rescale};

use super::color::{is_jpeg_format, jpeg_alias, without_jpeg_alias, ColorInfo, Range};
use super::decode::VideoInfo;
use super::encoder_names::unknown_encoder;
use super::error::{FfmpegContext, MediaError};
use super::ffmpeg_log::{explained, with_reason};
use super::filter_graph::{is_again, linear_graph, node, GraphInput};
use super::image_io::Colour;
use super::rgb_frames::{attach_closed_captions, frame_from};

/// Encoder choices from the pipeline.
#[derive(Debug, Clone)]
pub struct EncodeSettings {
    pub codec: String,
    pub crf: Option<u8>,
    pub preset: Option<String>,
    pub pixel_format: Option<String>,
    /// Encoder threads; 0 lets the encoder decide.
    pub threads: usize,
    /// Encoder threads for large outputs, when `threads` is 0; 0 lets the encoder
    /// decide. Each x264/x265 frame thread holds frames of its own (about 45 MB each at
    /// 4K), and the encoder's own choice (1.5 per core) buys nothing while inference
    /// has the cores.
    pub large_frame_threads: usize,
}

/// An open video encoder fed with RGB frames.
pub struct VideoEncoder {
    encoder: encoder::video::Encoder,
    graph: filter::Graph,
    /// Time base of the frames pushed and the packets handed back.
    time_base: Rational,
    /// Time base inside the encoder: the frames' own, or one frame for encoders that take
    /// nothing else (MPEG-1/2).
    encoder_time_base: Rational,
    /// The last timestamp given to the encoder, in `encoder_time_base`.
    last_pts: Option<i64>,
}

/// Encoders whose time base must be one frame at a standard rate: they code a frame
/// rate, not timestamps.
const FRAME_RATE_TIME_BASE_ENCODERS: &[&str] = &["mpeg1video", "mpeg2video"];

/// Looks up an encoder by name and the pixel format it will be given.
///
/// # Errors
/// The encoder is unknown, or the pixel format is unknown or not supported by it.
pub fn resolve_encoder(
    settings: &EncodeSettings,
    source_format: Pixel,
) -> Result<(ffmpeg_next::Codec, Pixel), MediaError> {
    super::init();
    let codec = encoder::find_by_name(&settings.codec)
        .ok_or_else(|| MediaError::Unsupported(unknown_encoder(&settings.codec)))?;
    let video = codec.video().map_err(|_| {
        MediaError::Unsupported(format!("`{}` is not a video encoder", settings.codec))
    })?;
    let supported: Vec<Pixel> = video.formats().map(Iterator::collect).unwrap_or_default();
    let accepts = |p: Pixel| supported.is_empty() || supported.contains(&p);
    let format = match &settings.pixel_format {
        Some(name) => {
            let format = Pixel::from_str(name)
                .map_err(|_| MediaError::Unsupported(format!("unknown pixel format `{name}`")))?;
            if !accepts(format) {
                return Err(MediaError::Unsupported(format!(
                    "pixel format `{name}` is not supported by {} (supported: {})",
                    settings.codec,
                    supported
                        .iter()
                        .map(|p| pixel_name(*p))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            format
        }
        None => {
            let preferred = without_jpeg_alias(source_format);
            // An encoder that lists the full-range `yuvj*` twin first (MJPEG) takes the
            // plain format only as a non-standard extension.
            let first_listed = [jpeg_alias(preferred), preferred]
                .into_iter()
                .filter_map(|p| supported.iter().position(|&s| s == p).map(|at| (at, p)))
                .min_by_key(|&(at, _)| at)
                .map(|(_, p)| p);
            if let Some(format) = first_listed.filter(|p| !is_rgb_like(*p)) {
                format
            } else if supported.is_empty() && !is_rgb_like(preferred) {
                preferred
            } else {
                supported.first().copied().unwrap_or(Pixel::YUV420P)
            }
        }
    };
    Ok((codec, format))
}

/// Checks the pipeline's encoder choice before any file is opened: the encoder exists
/// in this ffmpeg and encodes video, and a pixel format set by name exists and is one it
/// takes. Returns the `encode` field at fault (`codec` or `pixel_format`) and why.
///
/// # Errors
/// The same refusals [`resolve_encoder`] gives, with the field they concern.
pub fn check_encoder(settings: &EncodeSettings) -> Result<(), (&'static str, String)> {
    super::init();
    let codec_is_fine = encoder::find_by_name(&settings.codec).is_some_and(|c| c.is_video());
    let field = if codec_is_fine {
        "pixel_format"
    } else {
        "codec"
    };
    // The source's format only matters when no pixel format is named, and then nothing
    // about it can be wrong.
    resolve_encoder(settings, Pixel::YUV420P)
        .map(|_| ())
        .map_err(|error| (field, error.to_string()))
}

/// The out-of-band codec headers (extradata: H.264's SPS/PPS, for example) of a stream
/// with `parameters`; two encoders whose packets may follow each other in one stream
/// must have the same.
pub fn stream_headers(parameters: &codec::Parameters) -> Vec<u8> {
    // SAFETY: the parameters are valid while borrowed; extradata holds extradata_size
    // bytes when it is not null.
    unsafe {
        let raw = parameters.as_ptr();
        let size = usize::try_from((*raw).extradata_size).unwrap_or(0);
        if (*raw).extradata.is_null() || size == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts((*raw).extradata, size).to_vec()
        }
    }
}

/// ffmpeg's name of a pixel format (`yuv420p`).
pub fn pixel_name(format: Pixel) -> &'static str {
    format.descriptor().map_or("unknown", |d| d.name())
}

fn is_rgb_like(format: Pixel) -> bool {
    format.descriptor().is_some_and(|d| {
        d.name().contains("rgb") || d.name().contains("bgr") || d.name().starts_with("gbr")
    })
}

impl VideoEncoder {
    /// Opens the encoder for the restored frames of `source`: its timing, aspect and
    /// colour at `width`×`height`, in frames of its depth. `global_header`: the container
    /// wants codec headers out of band (mp4, mkv).
    ///
    /// # Errors
    /// The encoder or pixel format is not available, or the encoder refuses the settings.
    pub fn open(
        settings: &EncodeSettings,
        source: &VideoInfo,
        (width, height): (u32, u32),
        global_header: bool,
    ) -> Result<Self, MediaError> {
        let (codec, format) = resolve_encoder(settings, source.source_format)?;
        let target = encode_target(source, (width, height), format);
        let (opened, reason) = try_open(settings, codec, format, &target, global_header);
        let (encoder, encoder_time_base) = opened.context(|| {
            with_reason(
                format!("encoder {} refused the settings", settings.codec),
                reason,
            )
        })?;
        let graph = build_graph(&target, format)?;
        Ok(Self {
            encoder,
            graph,
            time_base: target.time_base,
            encoder_time_base,
            last_pts: None,
        })
    }

    /// The stream parameters of this encoder's output.
    pub fn parameters(&self) -> codec::Parameters {
        codec::Parameters::from(&self.encoder)
    }

    /// The open encoder, for the muxer's stream parameters.
    pub fn encoder(&self) -> &encoder::video::Encoder {
        &self.encoder
    }

    /// Time base of the packets this encoder emits.
    pub fn time_base(&self) -> Rational {
        self.time_base
    }

    /// Encodes one frame with its closed captions, if any; finished packets are appended
    /// to `out`.
    ///
    /// # Errors
    /// Conversion or encoding fails.
    pub fn push(
        &mut self,
        image: &Colour,
        pts: Option<i64>,
        closed_captions: Option<&[u8]>,
        out: &mut Vec<Packet>,
    ) -> Result<(), MediaError> {
        let mut frame = frame_from(image);
        frame.set_pts(pts);
        if let Some(bytes) = closed_captions {
            // The colour conversion keeps frame side data, and x264 (and MPEG-2) write
            // A/53 captions back as SEI (user data) by default.
            attach_closed_captions(&mut frame, bytes);
        }
        self.graph_node("in")?
            .source()
            .add(&frame)
            .context(|| "colour conversion failed".into())?;
        self.pull_converted(out)
    }

    /// `pts` (frames' time base) in the encoder's time base, after the last one: a
    /// frame-rate time base puts a variable-rate source's frames on its grid, where two
    /// may land on one step.
    fn encoder_pts(&mut self, pts: i64) -> i64 {
        let mut converted = pts.rescale(self.time_base, self.encoder_time_base);
        if let Some(last) = self.last_pts {
            converted = converted.max(last + 1);
        }
        self.last_pts = Some(converted);
        converted
    }

    /// Flushes everything still inside the converter and the encoder.
    ///
    /// # Errors
    /// The encoder fails while draining.
    pub fn finish(&mut self, out: &mut Vec<Packet>) -> Result<(), MediaError> {
        self.graph_node("in")?
            .source()
            .flush()
            .context(|| "colour conversion failed".into())?;
        self.pull_converted(out)?;
        self.encoder
            .send_eof()
            .context(|| "encoder flush failed".into())?;
        self.receive_packets(out)
    }

    fn pull_converted(&mut self, out: &mut Vec<Packet>) -> Result<(), MediaError> {
        let mut converted = VideoFrame::empty();
        loop {
            match self.graph_node("out")?.sink().frame(&mut converted) {
                Ok(()) => {
                    let pts = converted.pts().map(|pts| self.encoder_pts(pts));
                    converted.set_pts(pts);
                    self.encoder
                        .send_frame(&converted)
                        .context(|| "encoding failed".into())?;
                    self.receive_packets(out)?;
                }
                Err(e) if is_again(&e) => return Ok(()),
                Err(source) => {
                    return Err(MediaError::Ffmpeg {
                        context: "colour conversion failed".into(),
                        source,
                    })
                }
            }
        }
    }

    fn receive_packets(&mut self, out: &mut Vec<Packet>) -> Result<(), MediaError> {
        loop {
            let mut packet = Packet::empty();
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    packet.rescale_ts(self.encoder_time_base, self.time_base);
                    out.push(packet);
                }
                Err(e) if is_again(&e) => return Ok(()),
                Err(source) => {
                    return Err(MediaError::Ffmpeg {
                        context: "encoding failed".into(),
                        source,
                    })
                }
            }
        }
    }

    fn graph_node(&mut self, name: &str) -> Result<filter::Context, MediaError> {
        node(&mut self.graph, name)
    }
}

/// The frames the encoder is given: the source's timing, aspect and colour at `size`. A
/// `yuvj*` format (all MJPEG takes) is full range whatever the source was: written as
/// full-range samples and tagged so, or the encoder refuses limited range.
pub(crate) fn encode_target(
    source: &VideoInfo,
    (width, height): (u32, u32),
    format: Pixel,
) -> VideoInfo {
    let color = if is_jpeg_format(format) {
        ColorInfo {
            range: Range::Full,
            ..source.color
        }
    } else {
        source.color
    };
    VideoInfo {
        width,
        height,
        color,
        ..*source
    }
}

/// An encoder opened for `target`'s frames in `format`, with its time base, or ffmpeg's
/// refusal; and ffmpeg's logged reason.
pub(crate) fn try_open(
    settings: &EncodeSettings,
    codec: ffmpeg_next::Codec,
    format: Pixel,
    target: &VideoInfo,
    global_header: bool,
) -> (
    Result<(encoder::video::Encoder, Rational), ffmpeg_next::Error>,
    Option<String>,
) {
    explained(|| {
        let mut context = codec::context::Context::new_with_codec(codec);
        if global_header {
            context.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut video = context.encoder().video()?;
        video.set_width(target.width);
        video.set_height(target.height);
        video.set_format(format);
        let encoder_time_base = if FRAME_RATE_TIME_BASE_ENCODERS.contains(&settings.codec.as_str())
        {
            target.frame_rate.invert()
        } else {
            target.time_base
        };
        video.set_time_base(encoder_time_base);
        video.set_frame_rate(Some(target.frame_rate));
        if target.sample_aspect_ratio.numerator() > 0 {
            video.set_aspect_ratio(target.sample_aspect_ratio);
        }
        video.set_colorspace(target.color.space());
        video.set_color_range(target.color.range_tag());
        video.set_color_primaries(target.color.primaries);
        video.set_color_transfer_characteristic(target.color.transfer);
        let options = encoder_options(settings, target.width, target.height);
        video
            .open_with(options)
            .map(|encoder| (encoder, encoder_time_base))
    })
}

/// Outputs of at least this many pixels (half of 4K UHD) get a shorter encoder
/// look-ahead: at 4K each look-ahead frame costs about 25 MB in x264, and the default
/// 40-frame window alone would take over a gigabyte.
const LARGE_FRAME_PIXELS: u64 = 3840 * 2160 / 2;

/// Look-ahead frames for large outputs.
const LARGE_FRAME_LOOKAHEAD: u32 = 10;

fn encoder_options(settings: &EncodeSettings, width: u32, height: u32) -> Dictionary<'static> {
    let mut options = Dictionary::new();
    let x26x = matches!(settings.codec.as_str(), "libx264" | "libx265");
    if x26x {
        if let Some(crf) = settings.crf {
            options.set("crf", &crf.to_string());
        }
        if let Some(preset) = &settings.preset {
            options.set("preset", preset);
        }
    }
    let large = u64::from(width) * u64::from(height) >= LARGE_FRAME_PIXELS;
    if settings.codec == "libx264" && large {
        options.set("rc-lookahead", &LARGE_FRAME_LOOKAHEAD.to_string());
    }
    if settings.codec == "libx265" {
        let mut params = String::from("log-level=error");
        if large {
            params.push_str(&format!(":rc-lookahead={LARGE_FRAME_LOOKAHEAD}"));
        }
        options.set("x265-params", &params);
    }
    if settings.threads > 0 {
        options.set("threads", &settings.threads.to_string());
    } else if x26x && large && settings.large_frame_threads > 0 {
        options.set("threads", &settings.large_frame_threads.to_string());
    }
    options
}

fn build_graph(target: &VideoInfo, format: Pixel) -> Result<filter::Graph, MediaError> {
    let spec = format!(
        "scale={}:flags=bicubic+accurate_rnd+full_chroma_int,format={}",
        target.color.from_rgb_options(),
        pixel_name(format)
    );
    let input = GraphInput {
        width: target.width,
        height: target.height,
        format: if target.deep {
            Pixel::RGB48LE
        } else {
            Pixel::RGB24
        },
        time_base: target.time_base,
        frame_rate: target.frame_rate,
        sample_aspect_ratio: target.sample_aspect_ratio,
    };
    linear_graph(input, &spec, &spec)
}
