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

use super::color::ColorInfo;
use super::decode_graph::{build_graph, is_deep, pick_frame_rate, RgbConversion};
use super::error::{FfmpegContext, MediaError};
use super::filter_graph::{end_input, is_again, node, sink_format};
use super::graph_timing::GraphTiming;
use super::hardware_decoder::open_nvdec;
use super::image_io::Colour;
use super::layout::{CopyPolicy, StreamLayout};
use super::rgb_frames::{closed_captions_of, colour_from};
use crate::config::{DecodeErrorPolicy, VideoDecoder};

/// Facts about the main video stream.
#[derive(Debug, Clone, Copy)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Time base of the RGB frames' timestamps (after filtering).
    pub time_base: Rational,
    /// Rate of the RGB frames: the filters' output rate (`fps`, field-rate
    /// deinterlacing and frame interpolation change it), else the source's nominal rate.
    pub frame_rate: Rational,
    pub sample_aspect_ratio: Rational,
    pub color: ColorInfo,
    pub source_format: ffmpeg_next::format::Pixel,
    /// Frames come out at 16 bits a sample (the source is deeper than 8 and its frames
    /// are restored, not only looked at).
    pub deep: bool,
    /// How many frames the filters will hand out, from the count the stream states
    /// (0: not known).
    pub expected_frames: i64,
    /// When the video ends, in seconds on the frames' timeline, as the file states it.
    pub end_time: Option<f64>,
    /// How far the picture is turned for display (degrees counter-clockwise, as ffprobe
    /// prints it; 0 when upright). The frames are handed out as stored, unturned.
    pub display_rotation: f64,
}

/// A decoded frame in RGB with its presentation time.
pub struct RgbFrame {
    pub pts: Option<i64>,
    /// Display duration in the frames' time base; 0 when the source does not say.
    pub duration: i64,
    pub image: Colour,
    /// The frame's ATSC A/53 closed captions (CEA-608/708 bytes from the stream's
    /// SEI or user data), carried to the encoder so broadcast captures keep them.
    pub closed_captions: Option<Vec<u8>>,
}

/// Interlaced frames among those a source handed out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interlacing {
    pub frames: u64,
    /// Field order of the first interlaced frame.
    pub top_field_first: bool,
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
    damage_policy: DecodeErrorPolicy,
    /// Video packets or frames that could not be decoded and were skipped or repeated.
    damaged: u64,
    /// Frames still interlaced after the filters, and whether the first was top field
    /// first.
    interlaced: Interlacing,
    /// The last frame handed out, for [`DecodeErrorPolicy::RepeatFrame`].
    last_frame: Option<(Option<i64>, i64, Colour)>,
    /// Where the input ends and how long filtered frames last.
    timing: GraphTiming,
}

/// Opens the container, with a plain reason for the two failures users meet most: an
/// empty file and one ffmpeg does not recognise.
fn open_input(path: &Path) -> Result<Input, MediaError> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        return Err(MediaError::Unsupported(
            "cannot open input: the file is empty (0 bytes)".into(),
        ));
    }
    ffmpeg_next::format::input(&path).map_err(|source| MediaError::Ffmpeg {
        context: match source {
            ffmpeg_next::Error::InvalidData => "cannot open input: not a media file ffmpeg \
                                               recognises, or its header is damaged or missing"
                .into(),
            _ => "cannot open input".into(),
        },
        source,
    })
}

/// The video stream's decoder: NVDEC when `choice` asks for it and it reads the stream,
/// else ffmpeg's own, frame-threaded. A file NVDEC will not open is decoded on the CPU,
/// with a warning naming `name` and ffmpeg's reason.
fn open_decoder(
    stream: &ffmpeg_next::Stream<'_>,
    choice: VideoDecoder,
    name: &str,
) -> Result<decoder::Video, MediaError> {
    if choice == VideoDecoder::Nvdec {
        match open_nvdec(stream.parameters()) {
            Some(Ok(decoder)) => return Ok(decoder),
            Some(Err(reason)) => {
                tracing::warn!("{name}: NVDEC cannot decode it ({reason}); decoding on the CPU")
            }
            None => tracing::debug!("{name}: NVDEC does not read this video; decoding on the CPU"),
        }
    }
    let mut context = codec::context::Context::from_parameters(stream.parameters())
        .context(|| "cannot read video stream parameters".into())?;
    context.set_threading(codec::threading::Config::kind(
        codec::threading::Type::Frame,
    ));
    context
        .decoder()
        .video()
        .context(|| format!("no decoder for video codec {:?}", stream.parameters().id()))
}

/// The decode graph of `stream` with the user's `filters`, the facts of the frames it
/// hands out, and their timing across it.
fn open_graph(
    input: &Input,
    stream: &ffmpeg_next::Stream<'_>,
    decoder: &decoder::Video,
    filters: &[String],
    conversion: RgbConversion,
) -> Result<(filter::Graph, VideoInfo, GraphTiming), MediaError> {
    if decoder.format() == ffmpeg_next::format::Pixel::None {
        // Probing decodes frames to learn it: none could be, the data ends (or is
        // broken) before the first.
        return Err(MediaError::Unsupported(damage(
            "no frame of its video stream could be read (its pixel format is unknown)",
        )));
    }
    let time_base = stream.time_base();
    let source_rate = pick_frame_rate(stream.avg_frame_rate(), stream.rate());
    let stream_end = stated_end(stream.start_time(), stream.duration(), f64::from(time_base));
    let color = ColorInfo::from_stream(
        decoder.color_space(),
        decoder.color_range(),
        decoder.color_primaries(),
        decoder.color_transfer_characteristic(),
        decoder.format(),
        decoder.height(),
    );
    let sar = decoder.aspect_ratio();
    let deep = conversion == RgbConversion::Exact && is_deep(decoder.format());
    let mut graph = build_graph(
        decoder,
        (time_base, source_rate),
        sar,
        filters,
        &color,
        (conversion, deep),
    )?;
    let sink = sink_format(&mut graph)?;
    let timing = GraphTiming::new((time_base, source_rate), (sink.time_base, sink.frame_rate));
    let info = VideoInfo {
        width: sink.width,
        height: sink.height,
        time_base: sink.time_base,
        frame_rate: timing.output_rate(),
        sample_aspect_ratio: sar,
        color,
        source_format: decoder.format(),
        deep,
        expected_frames: timing.expected_frames(stream.frames()),
        end_time: stream_end.or_else(|| container_end(input)),
        display_rotation: 0.0,
    };
    Ok((graph, info, timing))
}

/// Where the container says the media ends, in seconds, when the video stream does not.
fn container_end(input: &Input) -> Option<f64> {
    // SAFETY: reading a plain field of the open context.
    let start = unsafe { (*input.as_ptr()).start_time };
    let unit = 1.0 / f64::from(ffmpeg_next::ffi::AV_TIME_BASE);
    stated_end(start, input.duration(), unit)
}

impl VideoSource {
    /// Opens `path`, its best video stream with the decoder `choice` asks for, and a
    /// filter graph of `filters` (libavfilter syntax, applied before the RGB
    /// `conversion`).
    ///
    /// # Errors
    /// The file cannot be opened, has no video stream, its codec has no decoder, or the
    /// filter graph is invalid.
    pub fn open(
        path: &Path,
        filters: &[String],
        conversion: RgbConversion,
        policy: CopyPolicy,
        choice: VideoDecoder,
    ) -> Result<(Self, StreamLayout), MediaError> {
        super::init();
        let name = path.display().to_string();
        let input = open_input(path)?;
        let stream = input
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| MediaError::Unsupported("no video stream".into()))?;
        let video_index = stream.index();
        let decoder = open_decoder(&stream, choice, &name)?;
        let layout = StreamLayout::from_input(&input, video_index, policy);
        let (graph, mut info, timing) = open_graph(&input, &stream, &decoder, filters, conversion)?;
        info.display_rotation = layout.display_rotation().unwrap_or(0.0);
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
                damage_policy: DecodeErrorPolicy::Fail,
                damaged: 0,
                interlaced: Interlacing::default(),
                last_frame: None,
                timing,
            },
            layout,
        ))
    }

    /// Facts about the video stream.
    pub fn info(&self) -> VideoInfo {
        self.info
    }

    /// How long the file says it is, in seconds, when it says.
    pub fn stated_duration(&self) -> Option<f64> {
        self.stated_duration
    }

    /// Sets what a frame that fails to decode does (default: the file fails).
    pub fn set_damage_policy(&mut self, policy: DecodeErrorPolicy) {
        self.damage_policy = policy;
    }

    /// How many video frames could not be decoded and were skipped or repeated.
    pub fn damaged_frames(&self) -> u64 {
        self.damaged
    }

    /// The frames handed out that were still interlaced (no deinterlacing filter ran).
    pub fn interlacing(&self) -> Interlacing {
        self.interlaced
    }

    /// Counts a frame that could not be decoded, or fails under [`DecodeErrorPolicy::Fail`].
    /// With [`DecodeErrorPolicy::RepeatFrame`] the last good frame stands in at `pts` (in the
    /// stream's time base).
    fn frame_damaged(&mut self, pts: Option<i64>, error: MediaError) -> Result<(), MediaError> {
        if self.damage_policy == DecodeErrorPolicy::Fail {
            return Err(error);
        }
        self.damaged += 1;
        if self.damage_policy == DecodeErrorPolicy::RepeatFrame {
            if let Some((last_pts, duration, image)) = &self.last_frame {
                let pts = pts
                    .map(|p| self.timing.to_output(p))
                    .or_else(|| last_pts.map(|p| p + (*duration).max(1)));
                // A stand-in frame carries no captions: repeating them would repeat text.
                self.pending.push_back(SourceItem::Frame(RgbFrame {
                    pts,
                    duration: *duration,
                    image: image.clone(),
                    closed_captions: None,
                }));
            }
        }
        Ok(())
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
            let error = MediaError::Unsupported(damage(&format!(
                "corrupt packet in stream {index} at {}",
                self.position()
            )));
            if index != self.video_index {
                return Err(error);
            }
            return self.frame_damaged(packet.pts(), error);
        }
        if index == self.video_index {
            if let Err(source) = self.decoder.send_packet(&packet) {
                let error = MediaError::Ffmpeg {
                    context: format!("video decode error at {}", self.position()),
                    source,
                };
                return self.frame_damaged(packet.pts(), error);
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
        end_input(
            &mut self.graph,
            self.timing.input_end(),
            "filter flush failed",
        )?;
        self.receive_filtered()
    }

    fn receive_decoded(&mut self) -> Result<(), MediaError> {
        let mut frame = VideoFrame::empty();
        loop {
            match self.decoder.receive_frame(&mut frame) {
                Ok(()) => {
                    let timestamp = self
                        .timing
                        .decoded(frame.timestamp(), frame.packet().duration);
                    frame.set_pts(timestamp);
                    self.source_ctx()?
                        .source()
                        .add(&frame)
                        .context(|| "filter input failed".into())?;
                    self.receive_filtered()?;
                }
                Err(e) if is_again(&e) => return Ok(()),
                Err(source) => {
                    let error = MediaError::Ffmpeg {
                        context: format!("video decode error at {}", self.position()),
                        source,
                    };
                    self.frame_damaged(None, error)?;
                    // The decoder reported the broken frame; ask again on the next packet.
                    return Ok(());
                }
            }
        }
    }

    fn receive_filtered(&mut self) -> Result<(), MediaError> {
        let mut filtered = VideoFrame::empty();
        loop {
            match node(&mut self.graph, "out")?.sink().frame(&mut filtered) {
                Ok(()) => {
                    if filtered.is_interlaced() {
                        if self.interlaced.frames == 0 {
                            self.interlaced.top_field_first = filtered.is_top_first();
                        }
                        self.interlaced.frames += 1;
                    }
                    let image = colour_from(&filtered)?;
                    let closed_captions = closed_captions_of(&filtered);
                    let pts = filtered.pts();
                    let duration = self.timing.output_duration(filtered.packet().duration);
                    if self.damage_policy == DecodeErrorPolicy::RepeatFrame {
                        self.last_frame = Some((pts, duration, image.clone()));
                    }
                    self.pending.push_back(SourceItem::Frame(RgbFrame {
                        pts,
                        duration,
                        image,
                        closed_captions,
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

/// `start + duration` in seconds when the duration is known (`AV_NOPTS_VALUE` start
/// counts as 0).
fn stated_end(start: i64, duration: i64, unit: f64) -> Option<f64> {
    let start = if start == ffmpeg_next::ffi::AV_NOPTS_VALUE {
        0
    } else {
        start
    };
    (duration > 0 && duration != ffmpeg_next::ffi::AV_NOPTS_VALUE)
        .then(|| (start + duration) as f64 * unit)
}

/// `input is truncated or damaged: {what}`, the start of every such message.
fn damage(what: &str) -> String {
    format!("input is truncated or damaged: {what}")
}
