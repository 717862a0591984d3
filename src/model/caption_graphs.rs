//! The ONNX Runtime side of a captioning model (ViT-style encoder, GPT-style decoder):
//! its graphs checked for the inputs and outputs an encoder-decoder captioner needs
//! (`caption_checks`) and opened, the encoder run once per batch of frames, and decoders
//! (see `caption_decoder`) handed out for the split pair, the merged graph or a
//! cache-less decoder, whichever the folder has. It sees only graph paths: finding them,
//! the JSON configuration and the tokenizer belong to `caption`, which builds on this.
//!
//! Of the split pair only the with-past graph is opened: fed an empty cache it computes
//! the first step exactly as `decoder_model.onnx` does, so the same weights are not held
//! twice. What it computes from the encoder states alone is split off
//! (`image_part`) and run once per set of images, not at every token.

use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4, Axis, Ix3};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

use super::caption_checks::{
    cache_pairs, check_decoder, check_encoder, check_merged, geometry_from_shapes, ENCODER_STATES,
};
pub use super::caption_decoder::{ImageDecoder, KvCache};
use super::image_part::ImageSplit;
use super::onnx_file::OnnxFile;
use super::onnx_write::ModelParts;
use super::runtime::Device;
use super::session::{open_session_from_parts, SessionConfig, SessionError};

/// A problem with a captioning model's graphs or with running them.
#[derive(Debug, thiserror::Error)]
pub enum CaptionGraphError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("captioning model {folder}: {message}")]
    Run { folder: String, message: String },
}

impl CaptionGraphError {
    /// A problem with one graph file.
    pub(super) fn file(path: &Path, message: impl Into<String>) -> Self {
        Self::File {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// How the decoder is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecoderFiles {
    /// `decoder_with_past_model.onnx` (the split pair's second graph), for every step:
    /// with an empty cache it computes the first as `decoder_model.onnx` would.
    WithPast(PathBuf),
    /// `decoder_model_merged.onnx`, one graph with a `use_cache_branch` switch.
    Merged(PathBuf),
    /// `decoder_model.onnx` alone: no cache, the whole sequence every step.
    NoCache(PathBuf),
}

impl DecoderFiles {
    /// The graph that reads the cache (or, without one, the only graph): the one whose
    /// inputs say what the decoder needs.
    fn cached(&self) -> &Path {
        match self {
            Self::WithPast(path) | Self::Merged(path) | Self::NoCache(path) => path,
        }
    }
}

/// Where a captioning model's graphs are.
#[derive(Debug, Clone, Copy)]
pub struct GraphPaths<'a> {
    /// The model folder, named in errors while running.
    pub folder: &'a Path,
    pub encoder: &'a Path,
    pub decoder: &'a DecoderFiles,
}

/// Heads and head size of the decoder's key/value cache tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheGeometry {
    pub heads: usize,
    pub head_dim: usize,
}

/// One cached tensor: the decoder input it is fed to and the output it comes back as.
#[derive(Debug, Clone)]
pub struct CachePair {
    pub(super) past: String,
    pub(super) present: String,
}

/// The part of the with-past graph that reads only the encoder states, split off.
pub(super) struct ImagePart {
    pub(super) session: Session,
    /// What it computes for the step graph, fed under the same names.
    pub(super) outputs: Vec<String>,
}

/// The decoder graphs as loaded.
pub(super) enum Graphs {
    /// The split layout's with-past graph, for every step (an empty cache on the first),
    /// and its image part when one could be split off.
    WithPast {
        step: Session,
        image: Option<ImagePart>,
    },
    Merged(Session),
    NoCache(Session),
}

/// The opened and checked graphs of a captioning model.
pub struct CaptionGraphs {
    pub(super) folder: PathBuf,
    encoder_path: PathBuf,
    encoder: Session,
    encoder_output: String,
    pub(super) decoder: Graphs,
    /// Whether the step graph reads the encoder states (all but a fully split one do).
    pub(super) steps_read_states: bool,
    /// The cached tensors, in input order.
    pub(super) cache_pairs: Vec<CachePair>,
    pub(super) cache: CacheGeometry,
    device: Device,
}

impl CaptionGraphs {
    /// Checks the graphs of `paths` and opens them. When the cache inputs do not say
    /// their heads and head size, `geometry_from_config` is asked (the model's
    /// `config.json` does); its error is the caller's own.
    ///
    /// # Errors
    /// A graph cannot be read or loaded, or does not have the inputs and outputs an
    /// encoder-decoder captioner needs (the message names the file, what was expected
    /// and what was found), or `geometry_from_config` fails.
    pub fn open<E: From<CaptionGraphError>>(
        paths: GraphPaths<'_>,
        config: SessionConfig,
        geometry_from_config: impl FnOnce() -> Result<CacheGeometry, E>,
    ) -> Result<Self, E> {
        let encoder_file = read_graph(paths.encoder)?;
        let encoder_output = check_encoder(&encoder_file)?;
        let decoder_file = read_graph(paths.decoder.cached())?;
        check_decoder(&decoder_file)?;
        if matches!(paths.decoder, DecoderFiles::Merged(_)) {
            check_merged(&decoder_file)?;
        }
        let cache_pairs = cache_pairs(&decoder_file)?;
        let cache = match geometry_from_shapes(&decoder_file) {
            Some(found) => found,
            None => geometry_from_config()?,
        };
        let (encoder, device) = open_graph(&encoder_file, config)?;
        let (decoder, steps_read_states) = open_decoder(paths.decoder, &decoder_file, config)?;
        Ok(Self {
            folder: paths.folder.to_path_buf(),
            encoder_path: paths.encoder.to_path_buf(),
            encoder,
            encoder_output,
            decoder,
            steps_read_states,
            cache_pairs,
            cache,
            device,
        })
    }

    /// Where the model runs.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Which decoder form is in use (`split`, `merged` or `no-cache`).
    pub fn decoder_form(&self) -> &'static str {
        match self.decoder {
            Graphs::WithPast { .. } => "split",
            Graphs::Merged(_) => "merged",
            Graphs::NoCache(_) => "no-cache",
        }
    }

    /// Whether what the decoder computes from the encoder states alone runs once per
    /// set of images rather than at every step.
    pub fn image_part_split_off(&self) -> bool {
        matches!(self.decoder, Graphs::WithPast { image: Some(_), .. })
    }

    pub(super) fn run_error(&self, message: impl std::fmt::Display) -> CaptionGraphError {
        run_error(&self.folder, message)
    }

    /// Runs the encoder on a batch of `pixel_values`: [N, sequence, hidden].
    ///
    /// # Errors
    /// ONNX Runtime fails.
    pub fn encode(&mut self, pixel_values: Array4<f32>) -> Result<Array3<f32>, CaptionGraphError> {
        let input = Tensor::from_array(pixel_values).map_err(|e| self.run_error(e))?;
        let outputs = self
            .encoder
            .run(ort::inputs!["pixel_values" => input])
            .map_err(|e| run_error(&self.folder, e))?;
        let value = outputs.get(&self.encoder_output).ok_or_else(|| {
            CaptionGraphError::file(
                &self.encoder_path,
                format!("no output `{}`", self.encoder_output),
            )
        })?;
        let array = value
            .try_extract_array::<f32>()
            .map_err(|e| CaptionGraphError::file(&self.encoder_path, e.to_string()))?;
        array.to_owned().into_dimensionality::<Ix3>().map_err(|_| {
            CaptionGraphError::file(
                &self.encoder_path,
                "expected a [batch, sequence, hidden] output",
            )
        })
    }

    /// A step decoder for one image's encoder output ([sequence, hidden]); beam search
    /// widens it to one row per beam.
    pub fn decoder_for(&mut self, encoded: ndarray::ArrayView2<'_, f32>) -> ImageDecoder<'_> {
        self.batch_decoder(encoded.insert_axis(Axis(0)))
    }

    /// A step decoder with one row per image of `encoded` ([images, sequence, hidden]),
    /// for greedy search over many images at once.
    pub fn batch_decoder(&mut self, encoded: ndarray::ArrayView3<'_, f32>) -> ImageDecoder<'_> {
        ImageDecoder::new(self, encoded)
    }
}

/// An error while running the model in `folder`.
pub(super) fn run_error(folder: &Path, message: impl std::fmt::Display) -> CaptionGraphError {
    CaptionGraphError::Run {
        folder: folder.display().to_string(),
        message: message.to_string(),
    }
}

fn read_graph(path: &Path) -> Result<OnnxFile, CaptionGraphError> {
    OnnxFile::read(path).map_err(|e| CaptionGraphError::file(path, format!("cannot read: {e}")))
}

fn open_graph(
    file: &OnnxFile,
    config: SessionConfig,
) -> Result<(Session, Device), CaptionGraphError> {
    Ok(open_session_from_parts(
        file,
        &ModelParts::whole(file),
        config,
    )?)
}

/// Opens the decoder; says whether its step graph reads the encoder states.
fn open_decoder(
    files: &DecoderFiles,
    cached: &OnnxFile,
    config: SessionConfig,
) -> Result<(Graphs, bool), CaptionGraphError> {
    let (graphs, reads_states) = match files {
        DecoderFiles::WithPast(_) => match ImageSplit::plan(cached, ENCODER_STATES) {
            Some(split) => return open_split(&split, config),
            None => {
                let step = open_graph(cached, config)?.0;
                (Graphs::WithPast { step, image: None }, true)
            }
        },
        DecoderFiles::Merged(_) => (Graphs::Merged(open_graph(cached, config)?.0), true),
        DecoderFiles::NoCache(_) => (Graphs::NoCache(open_graph(cached, config)?.0), true),
    };
    Ok((graphs, reads_states))
}

/// Opens the with-past graph as its image part and its step part.
fn open_split(
    split: &ImageSplit<'_>,
    config: SessionConfig,
) -> Result<(Graphs, bool), CaptionGraphError> {
    let file = split.file();
    let (image, _) = open_session_from_parts(file, &split.image_model(), config)?;
    // The step part's new inputs are typed as ONNX Runtime found the image part's outputs.
    let elements = split
        .boundary
        .iter()
        .map(|name| output_element(&image, name))
        .collect::<Option<Vec<i32>>>()
        .ok_or_else(|| CaptionGraphError::file(&file.path, "cannot type the split-off tensors"))?;
    let (step, _) = open_session_from_parts(file, &split.step_model(&elements), config)?;
    let image = ImagePart {
        session: image,
        outputs: split.boundary.clone(),
    };
    Ok((
        Graphs::WithPast {
            step,
            image: Some(image),
        },
        split.step_reads_input,
    ))
}

/// The ONNX element type of a session's output.
fn output_element(session: &Session, name: &str) -> Option<i32> {
    let output = session.outputs().iter().find(|o| o.name() == name)?;
    let ValueType::Tensor { ty, .. } = output.dtype() else {
        return None;
    };
    Some(match ty {
        TensorElementType::Float32 => 1,
        TensorElementType::Uint8 => 2,
        TensorElementType::Int8 => 3,
        TensorElementType::Int32 => 6,
        TensorElementType::Int64 => 7,
        TensorElementType::Bool => 9,
        TensorElementType::Float16 => 10,
        TensorElementType::Float64 => 11,
        _ => return None,
    })
}
