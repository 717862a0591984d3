//! Linear libavfilter graphs (`buffer → chain → buffersink`), used for the user's filters
//! and for colour conversion in both directions.

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
