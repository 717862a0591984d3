//! A captioning model (ViT-style encoder, GPT-style decoder) in ONNX Runtime: the encoder
//! once per batch of frames, the decoder step by step with its key/value cache, through
//! the split pair, the merged graph or a cache-less decoder, whichever the folder has.

use std::path::Path;

use ndarray::{Array2, Array3, Array4, ArrayD, Axis, Ix3, Ix4};
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType, ValueType};

use crate::caption::configs::{read_generation, read_preprocess, Generation, Preprocess};
use crate::caption::folder::{locate, DecoderFiles, ModelFiles};
use crate::caption::generate::StepDecoder;
use crate::caption::CaptionModelError;

use super::runtime::Device;
use super::session::{open_session, SessionConfig};

/// The decoder graphs as loaded.
enum Graphs {
    Split { first: Session, with_past: Session },
    Merged(Session),
    NoCache(Session),
}

/// A loaded captioning model.
pub struct CaptionModel {
    files: ModelFiles,
    encoder: Session,
    encoder_output: String,
    decoder: Graphs,
    /// `(past input name, present output name)` per cached tensor, in input order.
    cache_names: Vec<(String, String)>,
    heads: usize,
    head_dim: usize,
    pub preprocess: Preprocess,
    pub generation: Generation,
    pub tokenizer: tokenizers::Tokenizer,
    device: Device,
}

/// The decoder's key/value cache, one tensor per cached input.
pub struct KvCache(Vec<Array4<f32>>);

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

    fn run_error(&self, message: impl std::fmt::Display) -> CaptionModelError {
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

    /// A step decoder for one image's encoder output ([sequence, hidden]).
    pub fn decoder_for(&mut self, encoded: ndarray::ArrayView2<'_, f32>) -> ImageDecoder<'_> {
        ImageDecoder {
            encoded: encoded.to_owned(),
            model: self,
        }
    }
}

/// The decoder bound to one image.
pub struct ImageDecoder<'m> {
    model: &'m mut CaptionModel,
    encoded: Array2<f32>,
}

impl StepDecoder for ImageDecoder<'_> {
    type Cache = KvCache;
    type Error = CaptionModelError;

    fn step(
        &mut self,
        sequences: &[Vec<i64>],
        cache: Option<KvCache>,
    ) -> Result<(Array2<f32>, KvCache), CaptionModelError> {
        let rows = sequences.len();
        let model = &mut *self.model;
        let first_step = cache.is_none();
        let no_cache = matches!(model.decoder, Graphs::NoCache(_));
        let width = if first_step || no_cache {
            sequences.first().map_or(1, Vec::len)
        } else {
            1
        };
        let mut ids = Array2::<i64>::zeros((rows, width));
        for (r, sequence) in sequences.iter().enumerate() {
            for (c, token) in sequence[sequence.len() - width..].iter().enumerate() {
                ids[[r, c]] = *token;
            }
        }
        let (seq, hidden) = self.encoded.dim();
        let encoder_states = self
            .encoded
            .view()
            .insert_axis(Axis(0))
            .broadcast((rows, seq, hidden))
            .map(|v| v.to_owned())
            .ok_or_else(|| model.run_error("cannot repeat the encoder output"))?;
        let mut inputs: Vec<(String, SessionInputValue<'static>)> = vec![
            ("input_ids".into(), tensor(ids, model)?),
            (
                "encoder_hidden_states".into(),
                tensor(encoder_states, model)?,
            ),
        ];
        let uses_past = match &model.decoder {
            Graphs::Split { .. } => !first_step,
            Graphs::Merged(_) => true,
            Graphs::NoCache(_) => false,
        };
        if uses_past {
            let past: Vec<Array4<f32>> = match cache {
                Some(KvCache(tensors)) => tensors,
                None => (0..model.cache_names.len())
                    .map(|_| Array4::zeros((rows, model.heads, 0, model.head_dim)))
                    .collect(),
            };
            for ((name, _), array) in model.cache_names.clone().into_iter().zip(past) {
                inputs.push((name, tensor(array, model)?));
            }
        }
        if matches!(model.decoder, Graphs::Merged(_)) {
            let flag = Tensor::from_array(([1usize], vec![!first_step]))
                .map_err(|e| model.run_error(e))?;
            inputs.push(("use_cache_branch".into(), flag.into()));
        }
        let folder = model.files.folder.display().to_string();
        let session = match &mut model.decoder {
            Graphs::Split { first, with_past } => {
                if first_step {
                    first
                } else {
                    with_past
                }
            }
            Graphs::Merged(s) | Graphs::NoCache(s) => s,
        };
        let outputs = session.run(inputs).map_err(|e| CaptionModelError::Run {
            folder: folder.clone(),
            message: e.to_string(),
        })?;
        let run_error = |message: String| CaptionModelError::Run {
            folder: folder.clone(),
            message,
        };
        let logits = outputs
            .get("logits")
            .ok_or_else(|| run_error("decoder has no `logits` output".into()))?
            .try_extract_array::<f32>()
            .map_err(|e| run_error(e.to_string()))?;
        let logits = last_position(logits.to_owned())
            .ok_or_else(|| run_error("logits are not [batch, sequence, vocab]".into()))?;
        let mut present = Vec::with_capacity(model.cache_names.len());
        if !no_cache {
            for (_, name) in &model.cache_names {
                let value = outputs
                    .get(name)
                    .ok_or_else(|| run_error(format!("decoder has no `{name}` output")))?
                    .try_extract_array::<f32>()
                    .map_err(|e| run_error(e.to_string()))?;
                present.push(
                    value
                        .to_owned()
                        .into_dimensionality::<Ix4>()
                        .map_err(|_| run_error(format!("`{name}` is not 4-dimensional")))?,
                );
            }
        }
        Ok((logits, KvCache(present)))
    }

    fn reorder(&self, cache: KvCache, rows: &[usize]) -> KvCache {
        KvCache(
            cache
                .0
                .into_iter()
                .map(|t| t.select(Axis(0), rows))
                .collect(),
        )
    }
}

fn tensor<
    T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static,
    D: ndarray::Dimension + 'static,
>(
    array: ndarray::Array<T, D>,
    model: &CaptionModel,
) -> Result<SessionInputValue<'static>, CaptionModelError> {
    Tensor::from_array(array)
        .map(Into::into)
        .map_err(|e| model.run_error(e))
}

/// [batch, sequence, vocab] → the last position, [batch, vocab].
fn last_position(logits: ArrayD<f32>) -> Option<Array2<f32>> {
    let logits = logits.into_dimensionality::<Ix3>().ok()?;
    let last = logits.dim().1.checked_sub(1)?;
    Some(logits.index_axis(Axis(1), last).to_owned())
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
