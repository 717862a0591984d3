//! Writing the output container: the encoded video stream, copied audio and subtitle
//! streams with their own timestamps, metadata, chapters and rotation.
//!
//! The header can only be written once the video encoder is open (its parameters go into
//! it), so copied packets that arrive earlier wait in a small queue.

use std::collections::HashMap;
use std::path::Path;

use ffmpeg_next::format::context::Output;
use ffmpeg_next::{codec, encoder, media, Dictionary, Packet, Rational};

use super::encode::VideoEncoder;
use super::error::{FfmpegContext, MediaError};
use super::layout::StreamLayout;

/// Index of the video stream in every output.
const VIDEO_STREAM: usize = 0;

/// An output file being written.
pub struct Muxer {
    output: Output,
    layout: StreamLayout,
    /// Input stream index → (output stream index, input time base).
    copy_map: HashMap<usize, (usize, Rational)>,
    video_time_base: Rational,
    started: bool,
    waiting: Vec<(usize, Packet)>,
}

impl Muxer {
    /// Creates `path` as a `format` container (an ffmpeg muxer name such as `matroska`).
    ///
    /// # Errors
    /// The file cannot be created, or a copied stream cannot be stored in this container.
    pub fn create(path: &Path, format: &str, layout: StreamLayout) -> Result<Self, MediaError> {
        super::init();
        let output = ffmpeg_next::format::output_as(&path, format)
            .context(|| format!("cannot create {} as {format}", path.display()))?;
        check_container_accepts(&output, &layout, format)?;
        Ok(Self {
            output,
            layout,
            copy_map: HashMap::new(),
            video_time_base: Rational::new(1, 1),
            started: false,
            waiting: Vec::new(),
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
        let codec = video
            .encoder()
            .codec()
            .ok_or_else(|| MediaError::Unsupported("encoder has no codec".into()))?;
        let mut stream = self
            .output
            .add_stream(codec)
            .context(|| "cannot add the video stream".into())?;
        stream.set_parameters(video.encoder());
        stream.set_time_base(video.time_base());
        stream.set_avg_frame_rate(frame_rate);
        stream.set_metadata(dictionary(&self.layout.video_metadata));
        for (kind, data) in &self.layout.video_side_data {
            add_side_data(&mut stream, *kind, data);
        }
        self.video_time_base = video.time_base();
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
            // SAFETY: the stream was just added to this context and is not shared.
            unsafe {
                let raw = stream.as_mut_ptr();
                (*(*raw).codecpar).codec_tag = 0;
                (*raw).disposition = copied.disposition;
            }
            self.copy_map
                .insert(copied.input_index, (stream.index(), copied.time_base));
        }
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
        self.output
            .set_metadata(dictionary(&self.layout.container_metadata));
        self.output
            .write_header()
            .context(|| "cannot write the container header".into())?;
        self.started = true;
        for (index, packet) in std::mem::take(&mut self.waiting) {
            self.write_copied(index, packet)?;
        }
        Ok(())
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
        let Some(&(out_index, in_time_base)) = self.copy_map.get(&input_index) else {
            return Ok(());
        };
        let out_time_base = self.stream_time_base(out_index);
        packet.set_stream(out_index);
        packet.rescale_ts(in_time_base, out_time_base);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut self.output)
            .context(|| format!("cannot write a packet of input stream {input_index}"))
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

    fn stream_time_base(&self, index: usize) -> Rational {
        self.output
            .stream(index)
            .map_or(Rational::new(1, 1), |s| s.time_base())
    }
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
    format: &str,
) -> Result<(), MediaError> {
    for copied in &layout.copied {
        let id: ffmpeg_next::ffi::AVCodecID = copied.parameters.id().into();
        // SAFETY: the output format pointer is valid for the life of `output`.
        let verdict = unsafe {
            ffmpeg_next::ffi::avformat_query_codec(
                output.format().as_ptr(),
                id,
                ffmpeg_next::ffi::FF_COMPLIANCE_NORMAL,
            )
        };
        if verdict == 0 {
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
            return Err(MediaError::Unsupported(format!(
                "{kind} stream {} ({}) cannot be stored in {format}; use `container: mkv` or `{policy}: drop`",
                copied.input_index,
                copied.parameters.id().name()
            )));
        }
    }
    Ok(())
}
