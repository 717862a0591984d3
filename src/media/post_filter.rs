//! Filters after restoration: the pipeline's `filter` stages that follow its last
//! restore stage run on the restored RGB frames (grain added back, sharpening, a
//! delivery size, a new frame rate or motion interpolation at the restored size) and
//! hand back RGB frames at the chain's size, aspect, rate and time base, which the
//! encoder and the output stream then take.

use ffmpeg_next::filter;
use ffmpeg_next::util::frame::video::Video as VideoFrame;

use super::decode::VideoInfo;
use super::decode_graph::rgb_format;
use super::encode::pixel_name;
use super::error::{FfmpegContext, MediaError};
use super::filter_graph::{end_input, is_again, linear_graph, node, sink_format, GraphInput};
use super::graph_timing::GraphTiming;
use super::image_io::Colour;
use super::rgb_frames::{attach_closed_captions, closed_captions_of, colour_from, frame_from};

/// A frame out of the filters.
pub struct FilteredFrame {
    /// In the output's time base.
    pub pts: Option<i64>,
    /// In the output's time base; 0 when unknown.
    pub duration: i64,
    pub image: Colour,
    pub closed_captions: Option<Vec<u8>>,
}

/// The filter chain after restoration, open for one video.
pub struct PostFilter {
    graph: filter::Graph,
    timing: GraphTiming,
    output: VideoInfo,
}

impl PostFilter {
    /// Opens `chain` for restored frames described by `restored` (their size, depth,
    /// time base, rate and aspect).
    ///
    /// # Errors
    /// The chain cannot be configured for these frames (a crop larger than them, say).
    pub fn open(chain: &str, restored: &VideoInfo) -> Result<Self, MediaError> {
        super::init();
        let format = rgb_format(restored.deep);
        let input = GraphInput {
            width: restored.width,
            height: restored.height,
            format,
            time_base: restored.time_base,
            frame_rate: restored.frame_rate,
            sample_aspect_ratio: restored.sample_aspect_ratio,
        };
        // The stages and the encoder take RGB of the restored depth.
        let spec = format!("{chain},format={}", pixel_name(format));
        let mut graph = linear_graph(input, &spec, chain)?;
        let sink = sink_format(&mut graph)?;
        let timing = GraphTiming::new(
            (restored.time_base, restored.frame_rate),
            (sink.time_base, sink.frame_rate),
        );
        let sample_aspect_ratio = if sink.sample_aspect_ratio.numerator() > 0 {
            sink.sample_aspect_ratio
        } else {
            restored.sample_aspect_ratio
        };
        let output = VideoInfo {
            width: sink.width,
            height: sink.height,
            time_base: sink.time_base,
            frame_rate: timing.output_rate(),
            sample_aspect_ratio,
            expected_frames: timing.expected_frames(restored.expected_frames),
            ..*restored
        };
        Ok(Self {
            graph,
            timing,
            output,
        })
    }

    /// The frames the chain hands out: size, aspect, time base and rate.
    pub fn output(&self) -> &VideoInfo {
        &self.output
    }

    /// Filters one restored frame at `pts` lasting `duration` (the restored frames' time
    /// base); the frames now ready are appended to `out`.
    ///
    /// # Errors
    /// A filter fails on the frame.
    pub fn push(
        &mut self,
        (image, closed_captions): (&Colour, Option<&[u8]>),
        pts: Option<i64>,
        duration: i64,
        out: &mut Vec<FilteredFrame>,
    ) -> Result<(), MediaError> {
        let mut frame = frame_from(image);
        frame.set_pts(self.timing.decoded(pts, duration));
        if duration > 0 {
            // SAFETY: the frame is owned and valid; the field is plain data. Filters
            // copy it to the frames they make, which gives each its duration.
            unsafe {
                (*frame.as_mut_ptr()).pkt_duration = duration;
            }
        }
        if let Some(bytes) = closed_captions {
            attach_closed_captions(&mut frame, bytes);
        }
        node(&mut self.graph, "in")?
            .source()
            .add(&frame)
            .context(|| "filter after restoration failed".into())?;
        self.pull(out)
    }

    /// Ends the input where the last frame ends, so filters that fill to the end
    /// (`fps`) do, and appends every frame still inside.
    ///
    /// # Errors
    /// A filter fails while draining.
    pub fn finish(&mut self, out: &mut Vec<FilteredFrame>) -> Result<(), MediaError> {
        end_input(
            &mut self.graph,
            self.timing.input_end(),
            "filter after restoration failed at the end",
        )?;
        self.pull(out)
    }

    fn pull(&mut self, out: &mut Vec<FilteredFrame>) -> Result<(), MediaError> {
        let mut filtered = VideoFrame::empty();
        loop {
            match node(&mut self.graph, "out")?.sink().frame(&mut filtered) {
                Ok(()) => out.push(FilteredFrame {
                    pts: filtered.pts(),
                    duration: self.timing.output_duration(filtered.packet().duration),
                    image: colour_from(&filtered)?,
                    closed_captions: closed_captions_of(&filtered),
                }),
                Err(e) if is_again(&e) => return Ok(()),
                Err(source) => {
                    return Err(MediaError::Ffmpeg {
                        context: "filter after restoration failed".into(),
                        source,
                    })
                }
            }
        }
    }
}
