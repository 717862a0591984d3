//! Writing the output container: the encoded video stream, copied audio and subtitle
//! streams with their own timestamps, attachments, metadata, chapters and rotation.
//!
//! The header can only be written once the video encoder is open (its parameters go into
//! it), so copied packets that arrive earlier wait in a small queue.
//!
//! Source timestamps are written as they are (see [`header_options`]); where the
//! container cannot hold something of the source (a display rotation in Matroska), the
//! muxer says so through [`Muxer::unstorable_rotation`] and
//! [`Muxer::unstorable_attachments`] instead of dropping it silently.

use std::collections::HashMap;
use std::path::Path;

use ffmpeg_next::format::context::Output;
use ffmpeg_next::{codec, encoder, media, Dictionary, Packet, Rational, Rescale};

use super::container_codec::{
    advice_text, other_containers_for, other_containers_for_all, stream_fit, video_codec_fit,
    video_refusal, Fit,
};
use super::encode::stream_headers;
use super::encode::VideoEncoder;
use super::error::{FfmpegContext, MediaError};
use super::ffmpeg_log::{explained, with_reason};
use super::layout::{CopiedStream, StreamLayout};
use super::muxer_format::MuxerFormat;

/// Index of the video stream in every output.
const VIDEO_STREAM: usize = 0;

/// Muxers that write a video stream's display matrix (the `tkhd` matrix of the
/// QuickTime family). ffmpeg 5.1's Matroska muxer writes no rotation at all (no
/// `ProjectionPoseRoll`; a plain `ffmpeg -c copy` to .mkv loses it too), and the other
/// muxers ignore it.
const DISPLAY_MATRIX_MUXERS: &[&str] = &["mov", "mp4", "3gp", "3g2", "ipod", "ismv", "psp", "f4v"];

/// The libavformat major version from which the Matroska muxer shifts primed audio by
/// its `CodecDelay` on its own (see [`priming_offset`]).
const MUXER_SHIFTS_PRIMING_FROM: u32 = 60;

/// How far before zero a Matroska output may start: block times are signed 16-bit
/// milliseconds relative to a cluster that cannot start before zero.
const MATROSKA_NEGATIVE_LIMIT_S: f64 = 30.0;

/// Where the packets of one copied stream go.
#[derive(Debug, Clone, Copy)]
struct CopyTarget {
    out_index: usize,
    in_time_base: Rational,
    /// Added to the packets' timestamps (input time base); see [`priming_offset`].
    offset: i64,
}

/// An output file being written.
pub struct Muxer {
    output: Output,
    format: MuxerFormat,
    layout: StreamLayout,
    /// Input stream index → how its packets are written.
    copy_map: HashMap<usize, CopyTarget>,
    video_time_base: Rational,
    started: bool,
    waiting: Vec<(usize, Packet)>,
    /// The video stream's out-of-band codec headers, which every later part of the
    /// stream must share.
    video_extradata: Vec<u8>,
}

impl Muxer {
    /// Creates `path` as a `format` container.
    ///
    /// # Errors
    /// The file cannot be created, or a copied stream cannot be stored in this container.
    pub fn create(
        path: &Path,
        format: &MuxerFormat,
        layout: StreamLayout,
    ) -> Result<Self, MediaError> {
        super::init();
        let output = ffmpeg_next::format::output_as(&path, format.name())
            .context(|| format!("cannot create {} as {format}", path.display()))?;
        check_container_accepts(&output, &layout, format)?;
        Ok(Self {
            output,
            format: format.clone(),
            layout,
            copy_map: HashMap::new(),
            video_time_base: Rational::new(1, 1),
            started: false,
            waiting: Vec::new(),
            video_extradata: Vec::new(),
        })
    }

    /// Whether encoders must put codec headers in the container.
    pub fn wants_global_header(&self) -> bool {
        self.output
            .format()
            .flags()
            .contains(ffmpeg_next::format::Flags::GLOBAL_HEADER)
    }

    /// Adds every stream and writes the header; queued packets follow.
    ///
    /// # Errors
    /// The container refuses a stream or the header.
    pub fn start(&mut self, video: &VideoEncoder, frame_rate: Rational) -> Result<(), MediaError> {
        self.start_with(
            codec::Parameters::from(video.encoder()),
            video.time_base(),
            frame_rate,
        )
    }

    /// [`Muxer::start`] for a video stream described by `parameters` (packets in
    /// `time_base`), such as one read back from a segment file.
    ///
    /// # Errors
    /// The container refuses a stream or the header.
    pub fn start_with(
        &mut self,
        parameters: codec::Parameters,
        time_base: Rational,
        frame_rate: Rational,
    ) -> Result<(), MediaError> {
        self.check_video_codec(parameters.id())?;
        self.video_extradata = stream_headers(&parameters);
        self.add_video_stream(parameters, time_base, frame_rate)?;
        self.add_copied_streams()?;
        if self.keeps_attachments() {
            self.add_attachments()?;
        }
        self.add_chapters()?;
        self.write_header()?;
        self.started = true;
        for (index, packet) in std::mem::take(&mut self.waiting) {
            self.write_copied(index, packet)?;
        }
        Ok(())
    }

    /// Adds the video stream (always [`VIDEO_STREAM`], the first) with the source's
    /// metadata and side data.
    fn add_video_stream(
        &mut self,
        parameters: codec::Parameters,
        time_base: Rational,
        frame_rate: Rational,
    ) -> Result<(), MediaError> {
        // SAFETY: the output format is static data of libavformat.
        let format = unsafe { self.output.format().as_ptr() };
        let mut stream = self
            .output
            .add_stream(encoder::find(codec::Id::None))
            .context(|| "cannot add the video stream".into())?;
        stream.set_parameters(parameters);
        // SAFETY: the stream was just added to this context and is not shared; the
        // format pointer lives as long as the output.
        unsafe {
            settle_codec_tag(format, (*stream.as_mut_ptr()).codecpar);
        }
        stream.set_time_base(time_base);
        stream.set_avg_frame_rate(frame_rate);
        stream.set_metadata(dictionary(&self.layout.video_metadata));
        for (kind, data) in &self.layout.video_side_data {
            add_side_data(&mut stream, *kind, data);
        }
        self.video_time_base = time_base;
        Ok(())
    }

    /// Adds a stream for each copied input stream and notes where its packets go.
    fn add_copied_streams(&mut self) -> Result<(), MediaError> {
        // SAFETY: the output format is static data of libavformat.
        let format = unsafe { self.output.format().as_ptr() };
        for copied in &self.layout.copied {
            let mut stream = self
                .output
                .add_stream(encoder::find(codec::Id::None))
                .context(|| {
                    format!(
                        "cannot add a stream for input stream {}",
                        copied.input_index
                    )
                })?;
            stream.set_parameters(copied.parameters.clone());
            stream.set_time_base(copied.time_base);
            stream.set_metadata(dictionary(&copied.metadata));
            // SAFETY: the stream was just added to this context and is not shared; the
            // format pointer lives as long as the output.
            unsafe {
                let raw = stream.as_mut_ptr();
                settle_codec_tag(format, (*raw).codecpar);
                (*raw).disposition = copied.disposition;
            }
            let target = CopyTarget {
                out_index: stream.index(),
                in_time_base: copied.time_base,
                offset: priming_offset(&self.format, copied),
            };
            self.copy_map.insert(copied.input_index, target);
        }
        Ok(())
    }

    fn add_attachments(&mut self) -> Result<(), MediaError> {
        for attachment in &self.layout.attachments {
            let mut stream = self
                .output
                .add_stream(encoder::find(codec::Id::None))
                .context(|| "cannot add a stream for an attachment".into())?;
            stream.set_parameters(attachment.parameters.clone());
            stream.set_metadata(dictionary(&attachment.metadata));
        }
        Ok(())
    }

    fn add_chapters(&mut self) -> Result<(), MediaError> {
        for chapter in &self.layout.chapters {
            self.output
                .add_chapter(
                    chapter.id,
                    chapter.time_base,
                    chapter.start,
                    chapter.end,
                    chapter.title.as_deref().unwrap_or_default(),
                )
                .context(|| "cannot add a chapter".into())?;
        }
        Ok(())
    }

    /// Writes the container's metadata and header, saying why when it is refused.
    fn write_header(&mut self) -> Result<(), MediaError> {
        self.output
            .set_metadata(dictionary(&self.layout.container_metadata));
        let options = header_options(&self.format, &self.layout);
        let (written, reason) = explained(|| self.output.write_header_with(options).map(|_| ()));
        written.context(|| self.header_refusal(reason))
    }

    /// Writes a packet of a copied stream, queueing it until the header is written.
    ///
    /// # Errors
    /// The container refuses the packet.
    pub fn write_copied(
        &mut self,
        input_index: usize,
        mut packet: Packet,
    ) -> Result<(), MediaError> {
        if !self.started {
            self.waiting.push((input_index, packet));
            return Ok(());
        }
        let Some(&target) = self.copy_map.get(&input_index) else {
            return Ok(());
        };
        if target.offset != 0 {
            packet.set_pts(packet.pts().map(|t| t + target.offset));
            packet.set_dts(packet.dts().map(|t| t + target.offset));
        }
        let out_time_base = self.stream_time_base(target.out_index);
        packet.set_stream(target.out_index);
        packet.rescale_ts(target.in_time_base, out_time_base);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut self.output)
            .context(|| format!("cannot write a packet of input stream {input_index}"))
    }

    /// Refuses, before anything is written, a video codec the container cannot hold
    /// (H.264 in WebM through `container: same`, say), naming what can be used instead.
    fn check_video_codec(&self, codec: codec::Id) -> Result<(), MediaError> {
        if video_codec_fit(self.format.name(), codec) == Fit::Refuses {
            return Err(MediaError::Unsupported(video_refusal(&self.format, codec)));
        }
        Ok(())
    }

    /// Why the header was refused, for muxers such as dv and ogg that do not say up
    /// front what they hold: what was offered, ffmpeg's `reason`, and containers that
    /// hold it all. Built only on failure.
    fn header_refusal(&self, reason: Option<String>) -> String {
        let output_format = self.output.format();
        let format = output_format.name();
        let codecs: Vec<codec::Id> = self.output.streams().map(|s| s.parameters().id()).collect();
        let advice = advice_text(&other_containers_for_all(format, &codecs));
        with_reason(
            format!("the {format} container refused {}", self.stream_summary()),
            Some(reason.unwrap_or_else(|| "cannot write its header".into())),
        ) + &advice
    }

    /// The streams offered to the muxer, as `h264 video, pcm_s16le audio`.
    fn stream_summary(&self) -> String {
        self.output
            .streams()
            .map(|stream| {
                let parameters = stream.parameters();
                let kind = match parameters.medium() {
                    media::Type::Video => "video",
                    media::Type::Audio => "audio",
                    media::Type::Subtitle => "subtitles",
                    media::Type::Attachment => "attachment",
                    _ => "data",
                };
                format!("{} {kind}", parameters.id().name())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether the header is written (the video stream's parameters are set).
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Whether packets of an encoder whose out-of-band headers are `headers` (see
    /// [`stream_headers`]) can continue the video stream: they are the stream's.
    pub fn continues_video(&self, headers: &[u8]) -> bool {
        headers == self.video_extradata
    }

    /// Writes an encoded video packet (timestamps in the encoder's time base).
    ///
    /// # Errors
    /// The container refuses the packet.
    pub fn write_video(&mut self, mut packet: Packet) -> Result<(), MediaError> {
        let out_time_base = self.stream_time_base(VIDEO_STREAM);
        packet.set_stream(VIDEO_STREAM);
        packet.rescale_ts(self.video_time_base, out_time_base);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut self.output)
            .context(|| "cannot write a video packet".into())
    }

    /// Writes the trailer; the file is complete afterwards.
    ///
    /// # Errors
    /// The container cannot be finalised (disk full, for example).
    pub fn finish(mut self) -> Result<(), MediaError> {
        if !self.started {
            return Err(MediaError::Unsupported("no video frame was decoded".into()));
        }
        self.output
            .write_trailer()
            .context(|| "cannot finish the container".into())
    }

    /// Whether this container stores attached files: only Matroska does (WebM, MP4 and
    /// the rest have no place for them).
    fn keeps_attachments(&self) -> bool {
        self.format == MuxerFormat::Matroska
    }

    /// How many attachments of the source this container cannot store.
    pub fn unstorable_attachments(&self) -> usize {
        if self.keeps_attachments() {
            0
        } else {
            self.layout.attachments.len()
        }
    }

    /// The display rotation of the source (degrees, as ffprobe prints it) when this
    /// container cannot store it, so the output will play unrotated.
    pub fn unstorable_rotation(&self) -> Option<f64> {
        if DISPLAY_MATRIX_MUXERS.contains(&self.output.format().name()) {
            return None;
        }
        self.layout.display_rotation()
    }

    fn stream_time_base(&self, index: usize) -> Rational {
        self.output
            .stream(index)
            .map_or(Rational::new(1, 1), |s| s.time_base())
    }
}

/// Muxer options for the header.
///
/// Matroska by default shifts every stream so that the first packet it sees is at zero
/// or later ("make_non_negative"). ffmpeg 5.1 does so even for the small negative start
/// that audio priming gives (an MP4's AAC starts at -21 ms, Opus at -7 ms), which
/// moved every video frame of such a file 21 ms (or 7 ms) later than its source. So we
/// keep the timestamps as they are: Matroska stores a block's time as a signed offset
/// from its cluster, and demuxers read a slightly negative start back. Only a start far
/// before zero, which those offsets cannot reach, keeps the shift. Other muxers keep
/// their own default (MP4 already writes negative times through an edit list).
fn header_options(muxer: &MuxerFormat, layout: &StreamLayout) -> Dictionary<'static> {
    let mut options = Dictionary::new();
    let matroska = muxer.is_matroska_family();
    let reachable = layout
        .earliest_start
        .is_none_or(|start| start > -MATROSKA_NEGATIVE_LIMIT_S);
    if matroska && reachable {
        options.set("avoid_negative_ts", "disabled");
    }
    options
}

/// The shift that keeps a primed audio stream's times when it is written to Matroska.
///
/// A stream with encoder priming (Opus pre-skip: `initial_padding` samples) is read from
/// Matroska with its times moved back by that much, so its first packet is slightly
/// negative (-7 ms for a usual Opus stream). ffmpeg 5.1's Matroska muxer writes the
/// `CodecDelay` but not the matching shift of the blocks (its `ts_offset` line is
/// commented out), so the copied stream came back another 7 ms early on every pass.
/// Adding the priming back restores the source times. Later muxers (libavformat 60 and
/// up is assumed) shift the blocks themselves, and must not get it twice.
fn priming_offset(muxer: &MuxerFormat, copied: &CopiedStream) -> i64 {
    let muxer_shifts_itself = ffmpeg_next::format::version() >> 16 >= MUXER_SHIFTS_PRIMING_FROM;
    if !muxer.is_matroska_family() || copied.kind != media::Type::Audio || muxer_shifts_itself {
        return 0;
    }
    // SAFETY: the parameters are owned by `copied` and valid while it lives.
    let (padding, sample_rate) = unsafe {
        let raw = copied.parameters.as_ptr();
        ((*raw).initial_padding, (*raw).sample_rate)
    };
    if padding <= 0 || sample_rate <= 0 {
        return 0;
    }
    i64::from(padding).rescale(Rational::new(1, sample_rate), copied.time_base)
}

fn dictionary(entries: &[(String, String)]) -> Dictionary<'static> {
    let mut dict = Dictionary::new();
    for (key, value) in entries {
        dict.set(key, value);
    }
    dict
}

fn add_side_data(
    stream: &mut ffmpeg_next::format::stream::StreamMut<'_>,
    kind: codec::packet::side_data::Type,
    data: &[u8],
) {
    // SAFETY: av_stream_new_side_data allocates `data.len()` bytes owned by the stream;
    // we copy exactly that many into it.
    unsafe {
        let target =
            ffmpeg_next::ffi::av_stream_new_side_data(stream.as_mut_ptr(), kind.into(), data.len());
        if !target.is_null() {
            std::ptr::copy_nonoverlapping(data.as_ptr(), target, data.len());
        }
    }
}

/// Refuses, before anything is written, a copied stream the container cannot hold.
fn check_container_accepts(
    output: &Output,
    layout: &StreamLayout,
    format: &MuxerFormat,
) -> Result<(), MediaError> {
    for copied in &layout.copied {
        let codec = copied.parameters.id();
        if refuses(output, codec) {
            let kind = match copied.kind {
                media::Type::Audio => "audio",
                media::Type::Subtitle => "subtitle",
                _ => "data",
            };
            let policy = if kind == "audio" {
                "audio"
            } else {
                "subtitles"
            };
            let mut advice = other_containers_for(output.format().name(), codec);
            advice.push(format!("`{policy}: drop`"));
            return Err(MediaError::Unsupported(format!(
                "{kind} stream {} ({}) cannot be stored in {format}; use {}",
                copied.input_index,
                codec.name(),
                advice.join(" or ")
            )));
        }
    }
    Ok(())
}

/// Keeps a stream's codec tag only where the muxer's own tag tables give it the
/// stream's codec (UT Video's `ULY0`, which tells the decoder the sample layout; a first
/// match by codec would say RGBA); any other tag (NUT's, read back from a checkpoint
/// segment; MP4's `mp4a` going into Matroska) is cleared so the muxer chooses.
///
/// # Safety
/// `format` and `parameters` must be valid, and `parameters` not shared.
unsafe fn settle_codec_tag(
    format: *const ffmpeg_next::ffi::AVOutputFormat,
    parameters: *mut ffmpeg_next::ffi::AVCodecParameters,
) {
    // SAFETY: both pointers are valid per this function's contract.
    unsafe {
        let tag = (*parameters).codec_tag;
        let tables = (*format).codec_tag;
        let known = tag != 0
            && !tables.is_null()
            && ffmpeg_next::ffi::av_codec_get_id(tables, tag) == (*parameters).codec_id;
        if !known {
            (*parameters).codec_tag = 0;
        }
    }
}

/// Whether `output`'s muxer says for certain that it cannot store `codec` (muxers that
/// do not know let it through, and the header or first packet decides).
fn refuses(output: &Output, codec: codec::Id) -> bool {
    stream_fit(output.format().name(), codec) == Fit::Refuses
}
