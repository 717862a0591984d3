//! The pipeline file format, version 1, as serde types.
//!
//! Every struct denies unknown fields so that a typo is an error rather than
//! a silently ignored setting. `flatten` and `untagged` are avoided because
//! they lose the field path that positions are recovered from. Defaults live
//! here, next to the fields they belong to.

use std::path::PathBuf;

use serde::Deserialize;

use super::device::Device;
use super::positions::{child_path, item_path};
use super::precision::Precision;

/// The keys a pipeline file may have at its top level, in schema order.
pub const TOP_LEVEL_FIELDS: &[&str] = &[
    "name",
    "input",
    "output",
    "device",
    "precision",
    "stages",
    "encode",
    "run",
];

/// The stage names a `stages` item may use, in schema order.
pub const STAGE_NAMES: &[&str] = &["filter", "restore", "caption"];

/// The tile edge used when neither the pipeline nor the model's sidecar
/// gives one.
pub const DEFAULT_TILE: u32 = 256;

/// The smallest tile edge accepted; smaller tiles spend most of their work
/// on the overlap.
pub const MIN_TILE: u32 = 32;
/// The most tiles one run may hold (`tile_batch`).
pub const MAX_TILE_BATCH: u32 = 64;

/// Pixels shared by neighbouring tiles when the pipeline does not say.
pub const DEFAULT_TILE_OVERLAP: u32 = 16;

/// The encoder used when `encode.codec` is not given.
pub const DEFAULT_CODEC: &str = "libx264";

/// A whole pipeline, with relative paths already resolved against the
/// directory of the pipeline file.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// A label for reports; `None` when the file gives none.
    pub name: Option<String>,
    /// What to read.
    pub input: InputSpec,
    /// Where to write.
    pub output: OutputSpec,
    /// Where to run inference.
    pub device: Device,
    /// The float width restoration models run at.
    pub precision: Precision,
    /// The work done on every frame, in order; never empty.
    pub stages: Vec<StageSpec>,
    /// How results are written.
    pub encode: EncodeSpec,
    /// Parallelism defaults for this pipeline (command-line flags win).
    pub run: RunSpec,
}

/// The `run` section: parallelism defaults and checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a mapping")]
pub struct RunSpec {
    /// Files processed at once; `None`: as many as inference threads.
    pub jobs: Option<u32>,
    /// Inference threads in all; `None`: every core.
    pub threads: Option<u32>,
    /// Model sessions running at once on a GPU, each with its own CUDA stream;
    /// `None`: the runtime's default (4).
    pub gpu_sessions: Option<u32>,
    /// Video time between checkpoints of a long video (`30s`, `2m`), or `off`;
    /// `None`: [`DEFAULT_CHECKPOINT_SECONDS`].
    pub checkpoint: Option<String>,
}

/// Video time between checkpoints when the pipeline does not say.
pub const DEFAULT_CHECKPOINT_SECONDS: f64 = 30.0;

/// The `run.checkpoint` value that turns checkpoints off.
pub const CHECKPOINT_OFF: &str = "off";

impl RunSpec {
    /// Seconds of video between checkpoints, `None` when they are off.
    ///
    /// # Errors
    /// The value is neither a duration nor `off`.
    pub fn checkpoint_seconds(&self) -> Result<Option<f64>, String> {
        match self.checkpoint.as_deref().map(str::trim) {
            None => Ok(Some(DEFAULT_CHECKPOINT_SECONDS)),
            Some(CHECKPOINT_OFF) => Ok(None),
            Some(text) => super::duration::parse_duration(text)
                .map(Some)
                .map_err(|_| {
                    format!(
                        "run.checkpoint `{text}` is neither a duration greater than zero \
                     (such as `30s` or `2m`) nor `{CHECKPOINT_OFF}`"
                    )
                }),
        }
    }
}

/// The `input` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with `path`")]
pub struct InputSpec {
    /// A media file or a directory walked for media files.
    pub path: PathBuf,
    /// Globs a file (relative to `path`) must match; `None` selects the
    /// built-in media extensions (see [`super::VIDEO_EXTENSIONS`], [`super::IMAGE_EXTENSIONS`]).
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// Globs that drop a file even when it is included.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// What a video decode error in the middle of a stream does.
    #[serde(default)]
    pub on_decode_error: DecodeErrorPolicy,
    /// Which decoder reads video.
    #[serde(default)]
    pub decoder: VideoDecoder,
}

/// Which decoder reads video.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoDecoder {
    /// ffmpeg's decoders on the CPU (frame-threaded).
    #[default]
    Software,
    /// NVIDIA's video decoder (ffmpeg's `*_cuvid`) for the 8-bit 4:2:0 H.264, HEVC,
    /// MPEG-1/2/4, VC-1, VP8/9 and AV1 it reads; other video, or a file it cannot open,
    /// is decoded on the CPU.
    Nvdec,
}

/// What to do when a frame cannot be decoded in the middle of a video.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecodeErrorPolicy {
    /// The file fails.
    #[default]
    Fail,
    /// The broken frame is left out (the count is reported).
    SkipFrame,
    /// The previous good frame stands in for the broken one, keeping the frame count.
    RepeatFrame,
}

/// The `output` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with `path`")]
pub struct OutputSpec {
    /// The directory under which the input tree is mirrored.
    pub path: PathBuf,
    /// What to do when an output file is already there.
    #[serde(default)]
    pub existing: Existing,
    /// How output files are named.
    #[serde(default)]
    pub naming: Naming,
    /// Where each output's XMP metadata (caption, digital source type, history) goes.
    #[serde(default)]
    pub xmp: XmpOutput,
}

/// Where XMP metadata is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XmpOutput {
    /// Inside outputs whose format carries XMP (PNG, MP4, MOV), in a `NAME.EXT.xmp`
    /// sidecar beside the others (MKV, WebM, AVI) and beside caption-only outputs.
    #[default]
    Embedded,
    /// As `embedded`, and a sidecar beside every output too.
    Sidecar,
    /// None written.
    Off,
}

/// How an output file is named after its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// The input's name with the output's extension: `city.mpg` → `city.mkv`. Two inputs
    /// that differ only in extension would share an output; the second is refused.
    #[default]
    Stem,
    /// The input's whole name with the output's extension added where it differs:
    /// `city.mpg` → `city.mpg.mkv`, `city.mp4` → `city.mp4.mkv`, `scan.png` → `scan.png`.
    /// Every input keeps an output of its own, whatever else the folder holds.
    SourceExtension,
}

/// What to do when an output file already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Existing {
    /// Leave it and count the item as done, which makes reruns resume.
    #[default]
    Skip,
    /// Write over it.
    Overwrite,
    /// Report the item as failed.
    Fail,
}

/// One item of `stages`, written as a mapping with exactly one key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageSpec {
    /// A libavfilter graph, such as `yadif=mode=send_frame`.
    Filter(String),
    /// Image-to-image restoration with an ONNX model.
    Restore(RestoreSpec),
    /// Captions of sampled frames with an encoder-decoder model.
    Caption(CaptionSpec),
}

impl StageSpec {
    /// The key that names this stage in the file.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Filter(_) => "filter",
            Self::Restore(_) => "restore",
            Self::Caption(_) => "caption",
        }
    }

    /// The key path of this stage's body, for the stage at `position` in
    /// `stages`: `stages[1].restore`. Append `.model` and the like to
    /// address its fields.
    #[must_use]
    pub fn key_path(&self, position: usize) -> String {
        child_path(&item_path("stages", position), self.name())
    }
}

/// The body of a `restore` stage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with `model`")]
pub struct RestoreSpec {
    /// The `.onnx` model file.
    pub model: PathBuf,
    /// Tile edge in input pixels: `Some(0)` runs the whole frame at once,
    /// `None` takes the model sidecar's default, else [`DEFAULT_TILE`].
    #[serde(default)]
    pub tile: Option<u32>,
    /// Pixels shared by neighbouring tiles, hiding seams.
    #[serde(default = "default_tile_overlap")]
    pub tile_overlap: u32,
    /// Tiles of one window shape run together as one batch of up to this many: on a
    /// GPU, fewer and larger runs keep it busier; on a CPU they gain nothing.
    #[serde(default = "default_tile_batch")]
    pub tile_batch: u32,
    /// The scale this stage delivers when it differs from the model's own (a ×4 model
    /// used for ×2): the model's output is resized with Lanczos-3.
    #[serde(default)]
    pub scale: Option<u32>,
}

/// The body of a `caption` stage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with `model`")]
pub struct CaptionSpec {
    /// The model folder (Optimum / transformers.js encoder-decoder layout).
    pub model: PathBuf,
    /// Graph variant suffix: `fp16`, `quantized`…; `None` for the plain float graphs.
    #[serde(default)]
    pub variant: Option<String>,
    /// Caption a frame at this interval (`2s`, `500ms`, `1m`); default 2 s when no
    /// `scene_threshold` is given.
    #[serde(default)]
    pub every: Option<String>,
    /// Caption at shot changes whose score (0..1) reaches this.
    #[serde(default)]
    pub scene_threshold: Option<f32>,
    /// Shortest time between two captions with `scene_threshold`.
    #[serde(default)]
    pub min_gap: Option<String>,
    /// Longest time without a caption with `scene_threshold`.
    #[serde(default)]
    pub max_gap: Option<String>,
    /// Beam search width; 1 is greedy. Default: the model's generation config.
    #[serde(default)]
    pub beams: Option<u32>,
    /// Most tokens per caption. Default: the model's generation config.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Ban repeating n-grams of this size. Default: the model's generation config.
    #[serde(default)]
    pub no_repeat_ngram_size: Option<u32>,
    /// Frames encoded together.
    #[serde(default = "default_caption_batch")]
    pub batch: u32,
    /// After `restore`, also mux the captions into the restored video as a subtitle track.
    #[serde(default = "default_true")]
    pub mux: bool,
}

fn default_caption_batch() -> u32 {
    8
}

fn default_true() -> bool {
    true
}

fn default_tile_batch() -> u32 {
    1
}

fn default_tile_overlap() -> u32 {
    DEFAULT_TILE_OVERLAP
}

/// The `encode` section; every field has a default, and so does the section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a mapping")]
pub struct EncodeSpec {
    /// The container of video outputs.
    pub container: Container,
    /// The ffmpeg encoder name.
    pub codec: String,
    /// Constant rate factor; `None` keeps the encoder's default.
    pub crf: Option<u8>,
    /// Encoder speed preset; `None` keeps the encoder's default.
    pub preset: Option<String>,
    /// `None` keeps the source's pixel format when the codec supports it.
    pub pixel_format: Option<String>,
    /// What to do with audio streams.
    pub audio: StreamPolicy,
    /// What to do with subtitle streams.
    pub subtitles: StreamPolicy,
    /// The file format of image outputs.
    pub image_format: ImageFormat,
}

impl Default for EncodeSpec {
    fn default() -> Self {
        Self {
            container: Container::default(),
            codec: DEFAULT_CODEC.to_owned(),
            crf: None,
            preset: None,
            pixel_format: None,
            audio: StreamPolicy::default(),
            subtitles: StreamPolicy::default(),
            image_format: ImageFormat::default(),
        }
    }
}

/// The container of video outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// Matroska, which holds any codec and subtitle format.
    #[default]
    Mkv,
    /// MPEG-4.
    Mp4,
    /// The container of each source file.
    Same,
}

/// Whether streams other than video are carried over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamPolicy {
    /// Copy the packets unchanged.
    #[default]
    Copy,
    /// Leave them out.
    Drop,
}

/// The file format of image outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Lossless PNG.
    #[default]
    Png,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        T::deserialize(value).map_err(|e| e.to_string())
    }

    #[test]
    fn encode_defaults_match_the_schema() {
        let encode: EncodeSpec = parse("{}").unwrap();
        assert_eq!(encode, EncodeSpec::default());
        assert_eq!(encode.codec, "libx264");
        assert_eq!(encode.container, Container::Mkv);
        assert_eq!(encode.audio, StreamPolicy::Copy);
        assert_eq!(encode.image_format, ImageFormat::Png);
    }

    #[test]
    fn restore_defaults_leave_tile_to_the_model() {
        let restore: RestoreSpec = parse("model: m.onnx").unwrap();
        assert_eq!(restore.tile, None);
        assert_eq!(restore.tile_overlap, DEFAULT_TILE_OVERLAP);
    }

    #[test]
    fn output_existing_defaults_to_skip() {
        let output: OutputSpec = parse("path: out").unwrap();
        assert_eq!(output.existing, Existing::Skip);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let error = parse::<RestoreSpec>("model: m.onnx\ntilee: 3").unwrap_err();
        assert_eq!(
            error,
            "unknown field `tilee`, expected one of `model`, `tile`, `tile_overlap`, `tile_batch`, `scale`"
        );
    }

    #[test]
    fn stage_names_match_the_stage_enum() {
        for name in STAGE_NAMES {
            let tagged = format!("!{name} {{model: m.onnx}}");
            let error = parse::<StageSpec>(&tagged).err().unwrap_or_default();
            assert!(!error.contains("unknown variant"), "{name}: {error}");
        }
        let error = parse::<StageSpec>("!denoise x").unwrap_err();
        assert!(error.contains("unknown variant"), "{error}");
    }
}
