//! Linear libavfilter graphs (`buffer → chain → buffersink`), used for the user's filters
//! and for colour conversion in both directions, and the size a chain gives its frames.

use ffmpeg_next::format::Pixel;
use ffmpeg_next::{filter, Rational};

use super::error::{FfmpegContext, MediaError};
use super::ffmpeg_log::{explained, with_reason};

/// The frames entering a graph.
#[derive(Debug, Clone, Copy)]
pub struct GraphInput {
    pub width: u32,
    pub height: u32,
    pub format: Pixel,
    pub time_base: Rational,
    /// The frames' nominal rate. Filters that make or drop frames (`fps`, `yadif` in
    /// `send_field` mode, `minterpolate`, `tpad`) compute their output from it.
    pub frame_rate: Rational,
    pub sample_aspect_ratio: Rational,
}

/// Builds `in → spec → out` and configures it.
///
/// # Errors
/// A filter is missing or `spec` is not a valid chain for this input; `describe` names
/// the chain in the message.
pub fn linear_graph(
    input: GraphInput,
    spec: &str,
    describe: &str,
) -> Result<filter::Graph, MediaError> {
    let sar = if input.sample_aspect_ratio.numerator() > 0
        && input.sample_aspect_ratio.denominator() > 0
    {
        input.sample_aspect_ratio
    } else {
        Rational::new(1, 1)
    };
    let format: ffmpeg_next::ffi::AVPixelFormat = input.format.into();
    let mut args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        input.width,
        input.height,
        format as i32,
        input.time_base.numerator(),
        input.time_base.denominator().max(1),
        sar.numerator(),
        sar.denominator()
    );
    if is_rate(input.frame_rate) {
        args.push_str(&format!(
            ":frame_rate={}/{}",
            input.frame_rate.numerator(),
            input.frame_rate.denominator()
        ));
    }
    let invalid = format!("invalid filter graph `{describe}`");
    let mut graph = parsed_graph(&args, spec, &invalid)?;
    let (valid, reason) = explained(|| graph.validate());
    valid.context(|| with_reason(invalid, reason))?;
    Ok(graph)
}

/// Checks that `spec` parses as a filter chain and that every filter accepts its
/// options, without any video: what can be known before a file is opened (a crop too
/// large for a frame can only fail on that frame's size).
///
/// # Errors
/// The chain does not parse, names a filter ffmpeg lacks, or gives one a bad option;
/// the message has ffmpeg's reason.
pub fn check_chain(spec: &str) -> Result<(), MediaError> {
    super::init();
    let args = "video_size=64x64:pix_fmt=0:time_base=1/25:frame_rate=25/1:pixel_aspect=1/1";
    parsed_graph(args, spec, "invalid filter graph").map(|_| ())
}

/// Which frames a chain is given, which decides their pixel format (and so how `crop`
/// rounds sizes to the chroma subsampling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainInput {
    /// Decoded frames, before restoration: YUV 4:2:0, as most sources store them.
    Decoded,
    /// Restored frames: RGB.
    Restored,
}

impl ChainInput {
    fn format(self) -> Pixel {
        match self {
            Self::Decoded => Pixel::YUV420P,
            Self::Restored => Pixel::RGB24,
        }
    }
}

/// Two frame sizes a chain is tried on to see whether it fixes its output size.
const PROBE_SIZES: [(u32, u32); 2] = [(640, 480), (1280, 720)];

/// The size of the frames `chain` makes when it makes the same size from any frame
/// (`scale=241:135`); `None` when its output follows the input (`scale=iw/2:-2`,
/// `yadif`) or it cannot be configured without a real frame (a crop larger than a
/// probe). Two probe sizes of different shape are enough: a size that follows the
/// input differs between them.
pub fn fixed_output_size(chain: &str, input: ChainInput) -> Option<(u32, u32)> {
    let mut sizes = PROBE_SIZES
        .iter()
        .map(|&size| chain_output_size(chain, size, input));
    let first = sizes.next().flatten()?;
    sizes.all(|size| size == Some(first)).then_some(first)
}

/// The size of the frames `chain` makes from `input` frames of `size`, or `None` when
/// it cannot be configured for them.
pub fn chain_output_size(
    chain: &str,
    (width, height): (u32, u32),
    input: ChainInput,
) -> Option<(u32, u32)> {
    super::init();
    let input = GraphInput {
        width,
        height,
        format: input.format(),
        time_base: Rational::new(1, 25),
        frame_rate: Rational::new(25, 1),
        sample_aspect_ratio: Rational::new(1, 1),
    };
    let (graph, _) = explained(|| linear_graph(input, chain, chain).ok());
    graph.and_then(|mut graph| output_size(&mut graph).ok())
}

/// Width and height of the frames leaving a configured graph.
///
/// # Errors
/// The graph has no `out` node (never for graphs made by [`linear_graph`]).
pub fn output_size(graph: &mut filter::Graph) -> Result<(u32, u32), MediaError> {
    let sink = node(graph, "out")?;
    // SAFETY: `sink` is a buffersink of a configured graph, which outlives the call.
    let (w, h) = unsafe {
        (
            ffmpeg_next::ffi::av_buffersink_get_w(sink.as_ptr()),
            ffmpeg_next::ffi::av_buffersink_get_h(sink.as_ptr()),
        )
    };
    Ok((
        u32::try_from(w).unwrap_or_default(),
        u32::try_from(h).unwrap_or_default(),
    ))
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
    /// Their pixel aspect (`scale` and `setsar` change it); 0/1 when unknown.
    pub sample_aspect_ratio: Rational,
}

/// Size, time base and frame rate of the graph's output.
///
/// # Errors
/// Never for graphs made by [`linear_graph`]; reported rather than assumed.
pub fn sink_format(graph: &mut filter::Graph) -> Result<SinkFormat, MediaError> {
    let mut sink = node(graph, "out")?;
    // SAFETY: `sink` is a configured buffersink of a validated graph.
    let (w, h, rate, sar) = unsafe {
        (
            ffmpeg_next::ffi::av_buffersink_get_w(sink.as_ptr()),
            ffmpeg_next::ffi::av_buffersink_get_h(sink.as_ptr()),
            ffmpeg_next::ffi::av_buffersink_get_frame_rate(sink.as_ptr()),
            ffmpeg_next::ffi::av_buffersink_get_sample_aspect_ratio(sink.as_ptr()),
        )
    };
    let frame_rate = Rational::from(rate);
    Ok(SinkFormat {
        width: u32::try_from(w).unwrap_or_default(),
        height: u32::try_from(h).unwrap_or_default(),
        time_base: sink.sink().time_base(),
        frame_rate: is_rate(frame_rate).then_some(frame_rate),
        sample_aspect_ratio: Rational::from(sar),
    })
}

/// `in → spec → out` with the buffer source set up by `args`, parsed (each filter
/// created with its options) but not configured; `invalid` starts the message of a
/// chain that does not parse.
fn parsed_graph(args: &str, spec: &str, invalid: &str) -> Result<filter::Graph, MediaError> {
    let mut graph = filter::Graph::new();
    let find = |name: &str| {
        filter::find(name)
            .ok_or_else(|| MediaError::Unsupported(format!("ffmpeg has no `{name}` filter")))
    };
    graph
        .add(&find("buffer")?, "in", args)
        .context(|| format!("cannot create the filter input ({args})"))?;
    graph
        .add(&find("buffersink")?, "out", "")
        .context(|| "cannot create the filter output".into())?;
    let (parsed, reason) = explained(|| {
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(spec))
    });
    parsed.context(|| with_reason(invalid.to_string(), reason))?;
    Ok(graph)
}

/// Ends a graph's input where the frames fed to it end (`end`, in the input's time
/// base), so filters that fill to the end (`fps`) do; a plain flush, without an end,
/// tells them only the last frame's start.
///
/// # Errors
/// A filter fails while the input is closed; `context` names the graph.
pub fn end_input(
    graph: &mut filter::Graph,
    end: Option<i64>,
    context: &str,
) -> Result<(), MediaError> {
    let mut input = node(graph, "in")?;
    let mut source = input.source();
    match end {
        Some(end) => source.close(end),
        None => source.flush(),
    }
    .context(|| context.to_string())
}

/// A graph node by name (`in` or `out`).
///
/// # Errors
/// Never for graphs made by [`linear_graph`]; reported rather than assumed.
pub fn node(graph: &mut filter::Graph, name: &str) -> Result<filter::Context, MediaError> {
    graph
        .get(name)
        .ok_or_else(|| MediaError::Unsupported(format!("filter graph has no `{name}` node")))
}

/// Whether `rate` is a usable frame rate (libavfilter says "unknown" with 0/0 or 1/0).
pub fn is_rate(rate: Rational) -> bool {
    rate.numerator() > 0 && rate.denominator() > 0
}

/// Whether an ffmpeg error only means "nothing more for now".
pub fn is_again(error: &ffmpeg_next::Error) -> bool {
    matches!(error, ffmpeg_next::Error::Other { errno } if *errno == ffmpeg_next::util::error::EAGAIN)
        || matches!(error, ffmpeg_next::Error::Eof)
}

#[cfg(test)]
mod tests {
    use super::{chain_output_size, fixed_output_size, ChainInput};

    const YUV: ChainInput = ChainInput::Decoded;

    #[test]
    fn a_chain_that_sets_the_size_is_told_from_one_that_follows_the_input() {
        assert_eq!(fixed_output_size("scale=241:135", YUV), Some((241, 135)));
        assert_eq!(
            fixed_output_size("yadif,scale=320:240,hflip", YUV),
            Some((320, 240))
        );
        assert_eq!(fixed_output_size("scale=iw/2:-2", YUV), None);
        assert_eq!(fixed_output_size("null", YUV), None);
        // Needs a frame larger than the probes: only a real file can tell.
        assert_eq!(fixed_output_size("crop=2000:2000", YUV), None);
        assert_eq!(
            chain_output_size("scale=iw/2:-2", (1440, 1080), YUV),
            Some((720, 540))
        );
        assert_eq!(chain_output_size("crop=2000:2000", (1440, 1080), YUV), None);
        // Crop rounds to the chroma subsampling, and only there.
        assert_eq!(
            chain_output_size("crop=iw-1:ih", (242, 136), YUV),
            Some((240, 136))
        );
        assert_eq!(
            chain_output_size("crop=iw-1:ih", (242, 136), ChainInput::Restored),
            Some((241, 136))
        );
    }
}
