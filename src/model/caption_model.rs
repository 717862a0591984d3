//! A captioning model (ViT-style encoder, GPT-style decoder) in ONNX Runtime: its folder
//! loaded and checked, the encoder run once per batch of frames, and decoders (see
//! `caption_decoder`) handed out for the split pair, the merged graph or a cache-less
//! decoder, whichever the folder has.

use std::path::Path;

use ndarray::{Array3, Array4, Axis, Ix3};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

use crate::caption::configs::{read_generation, read_preprocess, Generation, Preprocess};
use crate::caption::folder::{locate, DecoderFiles, ModelFiles};
use crate::caption::CaptionModelError;

pub use super::caption_decoder::{ImageDecoder, KvCache};
use super::runtime::Device;
use super::session::{open_session, SessionConfig};

/// The decoder graphs as loaded.
pub(super) enum Graphs {
    Split { first: Session, with_past: Session },
    Merged(Session),
    NoCache(Session),
}

/// A loaded captioning model.
pub struct CaptionModel {
    pub(super) files: ModelFiles,
    encoder: Session,
    encoder_output: String,
    pub(super) decoder: Graphs,
    /// `(past input name, present output name)` per cached tensor, in input order.
    pub(super) cache_names: Vec<(String, String)>,
    pub(super) heads: usize,
    pub(super) head_dim: usize,
    pub preprocess: Preprocess,
    pub generation: Generation,
    pub tokenizer: tokenizers::Tokenizer,
    device: Device,
}

impl CaptionModel {
    /// Loads the model folder for `variant` (`""`: plain float graphs).
    ///
    /// # Errors
    /// A file is missing or unreadable, or a graph does not have the inputs and outputs
    /// an encoder-decoder captioner needs; the message names the file, what was expected
    /// and what was found.
    pub fn load(
        folder: &Path,
        variant: &str,
        config: SessionConfig,
    ) -> Result<Self, CaptionModelError> {
        let files = locate(folder, variant)?;
        let preprocess = read_preprocess(&files.preprocessor_config)?;
        let generation = read_generation(files.generation_config.as_deref(), &files.config)?;
        let tokenizer = tokenizers::Tokenizer::from_file(&files.tokenizer).map_err(|e| {
            CaptionModelError::file(&files.tokenizer, format!("cannot read the tokenizer: {e}"))
        })?;
        let (encoder, device) = open_session(&files.encoder, config)?;
        expect_input(
            &encoder,
            &files.encoder,
            "pixel_values",
            TensorElementType::Float32,
            4,
        )?;
        let encoder_output = encoder
            .outputs()
            .first()
            .map(|o| o.name().to_string())
            .ok_or_else(|| CaptionModelError::file(&files.encoder, "has no outputs"))?;
        let decoder = match &files.decoder {
            DecoderFiles::Split { first, with_past } => Graphs::Split {
                first: open_session(first, config)?.0,
                with_past: open_session(with_past, config)?.0,
            },
            DecoderFiles::Merged(path) => Graphs::Merged(open_session(path, config)?.0),
            DecoderFiles::NoCache(path) => Graphs::NoCache(open_session(path, config)?.0),
        };
        let (cached_graph, cached_path) = match (&decoder, &files.decoder) {
            (
                Graphs::Split { with_past, .. },
                DecoderFiles::Split {
                    with_past: path, ..
                },
            ) => (with_past, path),
            (Graphs::Merged(s), DecoderFiles::Merged(path))
            | (Graphs::NoCache(s), DecoderFiles::NoCache(path)) => (s, path),
            _ => unreachable_layout(&files.folder)?,
        };
        expect_input(
            cached_graph,
            cached_path,
            "input_ids",
            TensorElementType::Int64,
            2,
        )?;
        expect_input(
            cached_graph,
            cached_path,
            "encoder_hidden_states",
            TensorElementType::Float32,
            3,
        )?;
        expect_output(cached_graph, cached_path, "logits")?;
        let cache_names = cache_names(cached_graph, cached_path)?;
        let (heads, head_dim) = cache_geometry(cached_graph, &files)?;
        if let Graphs::Split { first, .. } = &decoder {
            if let DecoderFiles::Split { first: path, .. } = &files.decoder {
                expect_input(first, path, "input_ids", TensorElementType::Int64, 2)?;
                expect_output(first, path, "logits")?;
            }
        }
        if matches!(decoder, Graphs::Merged(_)) && !has_input(cached_graph, "use_cache_branch") {
            return Err(CaptionModelError::file(
                cached_path,
                format!("expected input `use_cache_branch` (bool [1]) in a merged decoder, found inputs: {}", input_list(cached_graph)),
            ));
        }
        Ok(Self {
            files,
            encoder,
            encoder_output,
            decoder,
            cache_names,
            heads,
            head_dim,
            preprocess,
            generation,
            tokenizer,
            device,
        })
    }

    /// Where the model runs.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The folder's files.
    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// Which decoder form is in use (`split`, `merged` or `no-cache`).
    pub fn decoder_form(&self) -> &'static str {
        match self.decoder {
            Graphs::Split { .. } => "split",
            Graphs::Merged(_) => "merged",
            Graphs::NoCache(_) => "no-cache",
        }
    }

    pub(super) fn run_error(&self, message: impl std::fmt::Display) -> CaptionModelError {
        CaptionModelError::Run {
            folder: self.files.folder.display().to_string(),
            message: message.to_string(),
        }
    }

    /// Runs the encoder on a batch of `pixel_values`: [N, sequence, hidden].
    ///
    /// # Errors
    /// ONNX Runtime fails.
    pub fn encode(&mut self, pixel_values: Array4<f32>) -> Result<Array3<f32>, CaptionModelError> {
        let input = Tensor::from_array(pixel_values).map_err(|e| self.run_error(e))?;
        let outputs = self
            .encoder
            .run(ort::inputs!["pixel_values" => input])
            .map_err(|e| CaptionModelError::Run {
                folder: self.files.folder.display().to_string(),
                message: e.to_string(),
            })?;
        let value = outputs.get(&self.encoder_output).ok_or_else(|| {
            CaptionModelError::file(
                &self.files.encoder,
                format!("no output `{}`", self.encoder_output),
            )
        })?;
        let array = value
            .try_extract_array::<f32>()
            .map_err(|e| CaptionModelError::file(&self.files.encoder, e.to_string()))?;
        array.to_owned().into_dimensionality::<Ix3>().map_err(|_| {
            CaptionModelError::file(
                &self.files.encoder,
                "expected a [batch, sequence, hidden] output",
            )
        })
    }

    /// Decodes a token id sequence to text, without special tokens.
    ///
    /// # Errors
    /// The tokenizer cannot decode the ids.
    pub fn decode_text(&self, tokens: &[i64]) -> Result<String, CaptionModelError> {
        let ids: Vec<u32> = tokens
            .iter()
            .filter_map(|t| u32::try_from(*t).ok())
            .collect();
        self.tokenizer
            .decode(&ids, true)
            .map(|t| t.trim().to_string())
            .map_err(|e| CaptionModelError::file(&self.files.tokenizer, e.to_string()))
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
) -> Result<(), CaptionModelError> {
    let described = format!("{} [rank {rank}]", format!("{ty:?}").to_lowercase());
    match session.inputs().iter().find(|i| i.name() == name) {
        None => Err(CaptionModelError::file(
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
            } => Err(CaptionModelError::file(
                path,
                format!(
                    "expected input `{name}` to be {described}, found {} [rank {}]",
                    format!("{found:?}").to_lowercase(),
                    shape.len()
                ),
            )),
            other => Err(CaptionModelError::file(
                path,
                format!("expected input `{name}` to be a tensor, found {other:?}"),
            )),
        },
    }
}

fn expect_output(session: &Session, path: &Path, name: &str) -> Result<(), CaptionModelError> {
    if session.outputs().iter().any(|o| o.name() == name) {
        Ok(())
    } else {
        let found: Vec<String> = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        Err(CaptionModelError::file(
            path,
            format!(
                "expected output `{name}`, found outputs: {}",
                found.join(", ")
            ),
        ))
    }
}

/// Pairs each `past_key_values.*` input with its `present.*` output.
fn cache_names(session: &Session, path: &Path) -> Result<Vec<(String, String)>, CaptionModelError> {
    let mut names = Vec::new();
    for input in session.inputs() {
        if let Some(rest) = input.name().strip_prefix("past_key_values.") {
            let present = format!("present.{rest}");
            if !session.outputs().iter().any(|o| o.name() == present) {
                return Err(CaptionModelError::file(
                    path,
                    format!(
                        "input `{}` has no matching output `{present}`",
                        input.name()
                    ),
                ));
            }
            names.push((input.name().to_string(), present));
        }
    }
    Ok(names)
}

/// Heads and head size of the cache tensors, from their shapes or from `config.json`.
fn cache_geometry(
    session: &Session,
    files: &ModelFiles,
) -> Result<(usize, usize), CaptionModelError> {
    let from_shape = session
        .inputs()
        .iter()
        .find(|i| i.name().starts_with("past_key_values."))
        .and_then(|i| {
            i.dtype()
                .tensor_shape()
                .map(|s| s.iter().copied().collect::<Vec<i64>>())
        })
        .and_then(|dims| match dims[..] {
            [_, h, _, d] if h > 0 && d > 0 => Some((h as usize, d as usize)),
            _ => None,
        });
    if let Some(found) = from_shape {
        return Ok(found);
    }
    let text = std::fs::read_to_string(&files.config)
        .map_err(|e| CaptionModelError::file(&files.config, e.to_string()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CaptionModelError::file(&files.config, format!("invalid JSON: {e}")))?;
    let decoder = json.get("decoder").unwrap_or(&json);
    let number = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| decoder.get(*k).and_then(serde_json::Value::as_u64))
    };
    match (
        number(&["n_head", "num_attention_heads"]),
        number(&["n_embd", "hidden_size"]),
    ) {
        (Some(heads), Some(width)) if heads > 0 => Ok((heads as usize, (width / heads) as usize)),
        _ => Err(CaptionModelError::file(
            &files.config,
            "cannot tell the decoder's heads and head size (no n_head/n_embd)".to_string(),
        )),
    }
}

fn unreachable_layout<T>(folder: &Path) -> Result<T, CaptionModelError> {
    Err(CaptionModelError::file(
        folder,
        "decoder graphs and files disagree",
    ))
}
