//! The ONNX Runtime side of a captioning model (ViT-style encoder, GPT-style decoder):
//! its graphs opened and checked for the inputs and outputs an encoder-decoder captioner
//! needs, the encoder run once per batch of frames, and decoders (see `caption_decoder`)
//! handed out for the split pair, the merged graph or a cache-less decoder, whichever the
//! folder has. It sees only graph paths: finding them, the JSON configuration and the
//! tokenizer belong to `caption`, which builds on this.

use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4, Axis, Ix3};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

pub use super::caption_decoder::{ImageDecoder, KvCache};
use super::runtime::Device;
use super::session::{open_session, SessionConfig, SessionError};

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
    fn file(path: &Path, message: impl Into<String>) -> Self {
        Self::File {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// How the decoder is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecoderFiles {
    /// `decoder_model.onnx` for the first step, `decoder_with_past_model.onnx` after it.
    Split { first: PathBuf, with_past: PathBuf },
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
            Self::Split { with_past, .. } => with_past,
            Self::Merged(path) | Self::NoCache(path) => path,
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
pub(super) struct CachePair {
    pub(super) past: String,
    pub(super) present: String,
}

/// The decoder graphs as loaded.
pub(super) enum Graphs {
    Split { first: Session, with_past: Session },
    Merged(Session),
    NoCache(Session),
}

impl Graphs {
    /// The graph that reads the cache (or, without one, the only graph).
    fn cached(&self) -> &Session {
        match self {
            Self::Split { with_past, .. } => with_past,
            Self::Merged(s) | Self::NoCache(s) => s,
        }
    }
}

/// The opened and checked graphs of a captioning model.
pub struct CaptionGraphs {
    pub(super) folder: PathBuf,
    encoder_path: PathBuf,
    encoder: Session,
    encoder_output: String,
    pub(super) decoder: Graphs,
    /// The cached tensors, in input order.
    pub(super) cache_pairs: Vec<CachePair>,
    pub(super) cache: CacheGeometry,
    device: Device,
}

impl CaptionGraphs {
    /// Opens the graphs of `paths` and checks their inputs and outputs. When the cache
    /// inputs do not say their heads and head size, `geometry_from_config` is asked (the
    /// model's `config.json` does); its error is the caller's own.
    ///
    /// # Errors
    /// A graph cannot be loaded or does not have the inputs and outputs an
    /// encoder-decoder captioner needs (the message names the file, what was expected
    /// and what was found), or `geometry_from_config` fails.
    pub fn open<E: From<CaptionGraphError>>(
        paths: GraphPaths<'_>,
        config: SessionConfig,
        geometry_from_config: impl FnOnce() -> Result<CacheGeometry, E>,
    ) -> Result<Self, E> {
        let (encoder, device) = open_graph(paths.encoder, config)?;
        let encoder_output = check_encoder(&encoder, paths.encoder)?;
        let decoder = open_decoder(paths.decoder, config)?;
        let (cached_graph, cached_path) = (decoder.cached(), paths.decoder.cached());
        check_decoder(cached_graph, cached_path)?;
        let cache_pairs = cache_pairs(cached_graph, cached_path)?;
        let cache = match geometry_from_shapes(cached_graph) {
            Some(found) => found,
            None => geometry_from_config()?,
        };
        if let (Graphs::Split { first, .. }, DecoderFiles::Split { first: path, .. }) =
            (&decoder, paths.decoder)
        {
            expect_input(first, path, "input_ids", TensorElementType::Int64, 2)?;
            expect_output(first, path, "logits")?;
        }
        if matches!(decoder, Graphs::Merged(_)) && !has_input(cached_graph, "use_cache_branch") {
            return Err(CaptionGraphError::file(
                cached_path,
                format!("expected input `use_cache_branch` (bool [1]) in a merged decoder, found inputs: {}", input_list(cached_graph)),
            )
            .into());
        }
        Ok(Self {
            folder: paths.folder.to_path_buf(),
            encoder_path: paths.encoder.to_path_buf(),
            encoder,
            encoder_output,
            decoder,
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
            Graphs::Split { .. } => "split",
            Graphs::Merged(_) => "merged",
            Graphs::NoCache(_) => "no-cache",
        }
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

fn open_graph(path: &Path, config: SessionConfig) -> Result<(Session, Device), CaptionGraphError> {
    Ok(open_session(path, config)?)
}

fn open_decoder(files: &DecoderFiles, config: SessionConfig) -> Result<Graphs, CaptionGraphError> {
    Ok(match files {
        DecoderFiles::Split { first, with_past } => Graphs::Split {
            first: open_graph(first, config)?.0,
            with_past: open_graph(with_past, config)?.0,
        },
        DecoderFiles::Merged(path) => Graphs::Merged(open_graph(path, config)?.0),
        DecoderFiles::NoCache(path) => Graphs::NoCache(open_graph(path, config)?.0),
    })
}

/// Checks the encoder's input and returns the name of its output.
fn check_encoder(encoder: &Session, path: &Path) -> Result<String, CaptionGraphError> {
    expect_input(encoder, path, "pixel_values", TensorElementType::Float32, 4)?;
    encoder
        .outputs()
        .first()
        .map(|o| o.name().to_string())
        .ok_or_else(|| CaptionGraphError::file(path, "has no outputs"))
}

/// Checks what every decoder form needs: token ids and encoder states in, logits out.
fn check_decoder(graph: &Session, path: &Path) -> Result<(), CaptionGraphError> {
    expect_input(graph, path, "input_ids", TensorElementType::Int64, 2)?;
    expect_input(
        graph,
        path,
        "encoder_hidden_states",
        TensorElementType::Float32,
        3,
    )?;
    expect_output(graph, path, "logits")
}

fn has_input(session: &Session, name: &str) -> bool {
    session.inputs().iter().any(|i| i.name() == name)
}

fn input_list(session: &Session) -> String {
    session
        .inputs()
        .iter()
        .map(|i| i.name().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn expect_input(
    session: &Session,
    path: &Path,
    name: &str,
    ty: TensorElementType,
    rank: usize,
) -> Result<(), CaptionGraphError> {
    let described = format!("{} [rank {rank}]", format!("{ty:?}").to_lowercase());
    match session.inputs().iter().find(|i| i.name() == name) {
        None => Err(CaptionGraphError::file(
            path,
            format!(
                "expected input `{name}` ({described}), found inputs: {}",
                input_list(session)
            ),
        )),
        Some(input) => match input.dtype() {
            ValueType::Tensor {
                ty: found, shape, ..
            } if *found == ty && shape.len() == rank => Ok(()),
            ValueType::Tensor {
                ty: found, shape, ..
            } => Err(CaptionGraphError::file(
                path,
                format!(
                    "expected input `{name}` to be {described}, found {} [rank {}]",
                    format!("{found:?}").to_lowercase(),
                    shape.len()
                ),
            )),
            other => Err(CaptionGraphError::file(
                path,
                format!("expected input `{name}` to be a tensor, found {other:?}"),
            )),
        },
    }
}

fn expect_output(session: &Session, path: &Path, name: &str) -> Result<(), CaptionGraphError> {
    if session.outputs().iter().any(|o| o.name() == name) {
        Ok(())
    } else {
        let found: Vec<String> = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        Err(CaptionGraphError::file(
            path,
            format!(
                "expected output `{name}`, found outputs: {}",
                found.join(", ")
            ),
        ))
    }
}

/// Pairs each `past_key_values.*` input with its `present.*` output.
fn cache_pairs(session: &Session, path: &Path) -> Result<Vec<CachePair>, CaptionGraphError> {
    let mut pairs = Vec::new();
    for input in session.inputs() {
        if let Some(rest) = input.name().strip_prefix("past_key_values.") {
            let present = format!("present.{rest}");
            if !session.outputs().iter().any(|o| o.name() == present) {
                return Err(CaptionGraphError::file(
                    path,
                    format!(
                        "input `{}` has no matching output `{present}`",
                        input.name()
                    ),
                ));
            }
            pairs.push(CachePair {
                past: input.name().to_string(),
                present,
            });
        }
    }
    Ok(pairs)
}

/// Heads and head size of the cache tensors, when their input shapes fix them.
fn geometry_from_shapes(session: &Session) -> Option<CacheGeometry> {
    session
        .inputs()
        .iter()
        .find(|i| i.name().starts_with("past_key_values."))
        .and_then(|i| {
            i.dtype()
                .tensor_shape()
                .map(|s| s.iter().copied().collect::<Vec<i64>>())
        })
        .and_then(|dims| match dims[..] {
            [_, h, _, d] if h > 0 && d > 0 => Some(CacheGeometry {
                heads: h as usize,
                head_dim: d as usize,
            }),
            _ => None,
        })
}
