//! Reading a video file: demuxing, decoding the main video stream, running the
//! pre-restoration filters and converting to RGB with the stream's own colour matrix.
//! Packets of copied streams are handed out as they are read so the muxer gets them in
//! file order.
//!
//! A file whose data cannot be read to its end (cut short, or with corrupt packets) is
//! an error, not a shorter output: the demuxer's complaint is reported with how far the
//! file got, so the user learns that the input itself is incomplete.

use std::collections::VecDeque;
use std::path::Path;

use ffmpeg_next::format::context::Input;
use ffmpeg_next::util::frame::video::Video as VideoFrame;
use ffmpeg_next::{codec, decoder, filter, media, Packet, Rational};
use image::RgbImage;

use super::color::ColorInfo;
use super::error::{FfmpegContext, MediaError};
use super::filter_graph::{is_again, linear_graph, node, GraphInput};
use super::layout::{CopyPolicy, StreamLayout};

/// Facts about the main video stream.
#[derive(Debug, Clone, Copy)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Time base of the RGB frames' timestamps (after filtering).
    pub time_base: Rational,
    pub frame_rate: Rational,
    pub sample_aspect_ratio: Rational,
    pub color: ColorInfo,
    pub source_format: ffmpeg_next::format::Pixel,
    pub stream_frames: i64,
}

/// A decoded frame in RGB with its presentation time.
pub struct RgbFrame {
    pub pts: Option<i64>,
    /// Display duration in the frames' time base; 0 when the source does not say.
    pub duration: i64,
    pub image: RgbImage,
}

/// What the source yields, in file order.
pub enum SourceItem {
    Frame(RgbFrame),
    /// A packet of a copied stream: the input stream index and the packet.
    Packet(usize, Packet),
}

/// The decode side of a video job.
pub struct VideoSource {
    name: String,
    input: Input,
    video_index: usize,
    decoder: decoder::Video,
    graph: filter::Graph,
    copied: Vec<usize>,
    pending: VecDeque<SourceItem>,
    finished_input: bool,
    finished: bool,
    info: VideoInfo,
    /// Where reading got to, in seconds: the time of the last packet read.
    reached: Option<f64>,
    /// How long the file says it lasts, in seconds.
    stated_duration: Option<f64>,
}

impl VideoSource {
    /// Opens `path`, its best video stream and a filter graph of `filters` (libavfilter
    /// syntax, applied before RGB conversion).
    ///
    /// # Errors
    /// The file cannot be opened, has no video stream, its codec has no decoder, or the
    /// filter graph is invalid.
    pub fn open(
        path: &Path,
        filters: &[String],
        policy: CopyPolicy,
    ) -> Result<(Self, StreamLayout), MediaError> {
        super::init();
        let name = path.display().to_string();
        if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(MediaError::Unsupported(
                "cannot open input: the file is empty (0 bytes)".into(),
            ));
        }
        let input = ffmpeg_next::format::input(&path).map_err(|source| MediaError::Ffmpeg {
            context: match source {
                ffmpeg_next::Error::InvalidData => "cannot open input: not a media file ffmpeg \
                                                   recognises, or its header is damaged or missing"
                    .into(),
                _ => "cannot open input".into(),
            },
            source,
        })?;
        let stream = input
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| MediaError::Unsupported("no video stream".into()))?;
        let video_index = stream.index();
        let mut context = codec::context::Context::from_parameters(stream.parameters())
            .context(|| "cannot read video stream parameters".into())?;
        context.set_threading(codec::threading::Config::kind(
            codec::threading::Type::Frame,
        ));
        let decoder = context
            .decoder()
            .video()
            .context(|| format!("no decoder for video codec {:?}", stream.parameters().id()))?;
        let time_base = stream.time_base();
        let frame_rate = pick_frame_rate(stream.avg_frame_rate(), stream.rate());
        let stream_frames = stream.frames();
        let layout = StreamLayout::from_input(&input, video_index, policy);
        let color = ColorInfo::from_stream(
            decoder.color_space(),
            decoder.color_range(),
            decoder.color_primaries(),
            decoder.color_transfer_characteristic(),
            decoder.format(),
            decoder.height(),
        );
        let sar = decoder.aspect_ratio();
        let mut graph = build_graph(&decoder, time_base, sar, filters, &color)?;
        let (width, height, sink_time_base) = sink_geometry(&mut graph)?;
        let info = VideoInfo {
            width,
            height,
            time_base: sink_time_base,
            frame_rate,
            sample_aspect_ratio: sar,
            color,
            source_format: decoder.format(),
            stream_frames,
        };
        let copied = layout.copied.iter().map(|s| s.input_index).collect();
        let stated_duration = (input.duration() > 0)
            .then(|| input.duration() as f64 / f64::from(ffmpeg_next::ffi::AV_TIME_BASE));
        Ok((
            Self {
                name,
                input,
                video_index,
                decoder,
                graph,
                copied,
                pending: VecDeque::new(),
                finished_input: false,
                finished: false,
                info,
                reached: None,
                stated_duration,
            },
            layout,
        ))
    }

    /// Facts about the video stream.
    pub fn info(&self) -> VideoInfo {
        self.info
    }

    /// The next frame or copied packet; `Ok(None)` at the end.
    ///
    /// # Errors
    /// Reading or decoding fails (a truncated or corrupt file).
    pub fn next_item(&mut self) -> Result<Option<SourceItem>, MediaError> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            if self.finished {
                return Ok(None);
            }
            if self.finished_input {
                self.drain_decoder_and_graph()?;
                self.finished = true;
                continue;
            }
            self.read_one_packet()?;
        }
    }

    fn read_one_packet(&mut self) -> Result<(), MediaError> {
        let mut packet = Packet::empty();
        match packet.read(&mut self.input) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => {
                self.finished_input = true;
                return Ok(());
            }
            // The demuxer cannot find the data its index promises (`partial file`) or
            // cannot parse what is there: the rest of the file is missing or damaged.
            Err(source @ ffmpeg_next::Error::InvalidData) => {
                return Err(MediaError::Ffmpeg {
                    context: damage(&format!("unreadable data after {}", self.position())),
                    source,
                })
            }
            Err(source) => {
                return Err(MediaError::Ffmpeg {
                    context: format!("read error after {}", self.position()),
                    source,
                })
            }
        }
        let index = packet.stream();
        let wanted = index == self.video_index || self.copied.contains(&index);
        if wanted {
            if let Some(stream) = self.input.stream(index) {
                let time_base = f64::from(stream.time_base());
                let time = packet.pts().or(packet.dts()).map(|t| t as f64 * time_base);
                self.reached = time.or(self.reached);
            }
        }
        if wanted && packet.is_corrupt() {
            // A packet cut short by the end of the file (or flagged by the demuxer's
            // checks): decoding it would hide the damage behind a decoder error.
            return Err(MediaError::Unsupported(damage(&format!(
                "corrupt packet in stream {index} at {}",
                self.position()
            ))));
        }
        if index == self.video_index {
            if let Err(source) = self.decoder.send_packet(&packet) {
                return Err(MediaError::Ffmpeg {
                    context: format!("video decode error at {}", self.position()),
                    source,
                });
            }
            self.receive_decoded()?;
        } else if self.copied.contains(&index) {
            self.pending.push_back(SourceItem::Packet(index, packet));
        }
        Ok(())
    }

    /// How far reading got, against the length the file states: `0.917 s of 2.000 s`.
    fn position(&self) -> String {
        let reached = self
            .reached
            .map_or_else(|| "the start".to_string(), |t| format!("{t:.3} s"));
        match self.stated_duration {
            Some(total) => format!("{reached} of {total:.3} s"),
            None => reached,
        }
    }

    fn drain_decoder_and_graph(&mut self) -> Result<(), MediaError> {
        self.decoder
            .send_eof()
            .context(|| "video decode error at end of stream".into())?;
        self.receive_decoded()?;
        self.source_ctx()?
            .source()
            .flush()
            .context(|| "filter flush failed".into())?;
        self.receive_filtered()
    }

    fn receive_decoded(&mut self) -> Result<(), MediaError> {
        let mut frame = VideoFrame::empty();
        loop {
            match self.decoder.receive_frame(&mut frame) {
                Ok(()) => {
                    let timestamp = frame.timestamp();
                    frame.set_pts(timestamp);
                    self.source_ctx()?
                        .source()
                        .add(&frame)
                        .context(|| "filter input failed".into())?;
                    self.receive_filtered()?;
                }
                Err(e) if is_again(&e) => return Ok(()),
                Err(source) => {
                    return Err(MediaError::Ffmpeg {
                        context: "video decode error".into(),
                        source,
                    })
                }
            }
        }
    }

    fn receive_filtered(&mut self) -> Result<(), MediaError> {
        let mut filtered = VideoFrame::empty();
        loop {
            match node(&mut self.graph, "out")?.sink().frame(&mut filtered) {
                Ok(()) => {
                    let image = rgb_image_from(&filtered)?;
                    self.pending.push_back(SourceItem::Frame(RgbFrame {
                        pts: filtered.pts(),
                        duration: filtered.packet().duration,
                        image,
                    }));
                }
                Err(e) if is_again(&e) => return Ok(()),
                Err(source) => {
                    return Err(MediaError::Ffmpeg {
                        context: "filter error".into(),
                        source,
                    })
                }
            }
        }
    }

    fn source_ctx(&mut self) -> Result<filter::Context, MediaError> {
        node(&mut self.graph, "in")
    }

    /// The file this source reads, as given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `input is truncated or damaged: {what}`, the start of every such message.
fn damage(what: &str) -> String {
    format!("input is truncated or damaged: {what}")
}

/// The nominal frame rate: the average when the container knows it, else the base rate.
fn pick_frame_rate(average: Rational, base: Rational) -> Rational {
    if average.numerator() > 0 && average.denominator() > 0 {
        average
    } else if base.numerator() > 0 && base.denominator() > 0 {
        base
    } else {
        Rational::new(25, 1)
    }
}

fn build_graph(
    decoder: &decoder::Video,
    time_base: Rational,
    sar: Rational,
    filters: &[String],
    color: &ColorInfo,
) -> Result<filter::Graph, MediaError> {
    let mut chain: Vec<String> = filters.to_vec();
    chain.push(format!(
        "scale={}:flags=bicubic+accurate_rnd+full_chroma_int",
        color.to_rgb_options()
    ));
    chain.push("format=rgb24".into());
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
fn sink_geometry(graph: &mut filter::Graph) -> Result<(u32, u32, Rational), MediaError> {
    let mut sink = node(graph, "out")?;
    // SAFETY: `sink` is a configured buffersink of a validated graph.
    let (w, h) = unsafe {
        (
            ffmpeg_next::ffi::av_buffersink_get_w(sink.as_ptr()),
            ffmpeg_next::ffi::av_buffersink_get_h(sink.as_ptr()),
        )
    };
    let time_base = sink.sink().time_base();
    Ok((
        u32::try_from(w).unwrap_or_default(),
        u32::try_from(h).unwrap_or_default(),
        time_base,
    ))
}

/// Copies an `rgb24` frame into a tightly packed image (swscale rows are padded).
fn rgb_image_from(frame: &VideoFrame) -> Result<RgbImage, MediaError> {
    let (width, height) = (frame.width(), frame.height());
    let stride = frame.stride(0);
    let data = frame.data(0);
    let row_bytes = width as usize * 3;
    let mut packed = Vec::with_capacity(row_bytes * height as usize);
    for y in 0..height as usize {
        packed.extend_from_slice(&data[y * stride..y * stride + row_bytes]);
    }
    RgbImage::from_raw(width, height, packed)
        .ok_or_else(|| MediaError::Unsupported("decoded frame has an inconsistent size".into()))
}
