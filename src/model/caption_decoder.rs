//! The captioning decoder bound to a set of images, as generation drives it: one step for
//! a set of rows (one per image, or one per beam of one image), through whichever
//! decoder graphs the model has. The encoder states go to ONNX Runtime once and are
//! rebuilt only when the rows change; the key/value cache stays in ONNX Runtime's tensors
//! from one step to the next and is copied only when rows are reordered.

use ndarray::{Array2, Array3, Array4, Axis, Ix3};
use ort::session::SessionInputValue;
use ort::value::{DynValue, Tensor};

use crate::caption::generate::StepDecoder;
use crate::caption::CaptionModelError;

use super::caption_model::{CaptionModel, Graphs};

/// The decoder's key/value cache, one ONNX Runtime tensor per cached input.
pub struct KvCache(Vec<DynValue>);

/// The decoder bound to a set of images. The encoder states go to ONNX Runtime once and
/// are rebuilt only when the rows change; the key/value cache stays in ONNX Runtime's
/// tensors from one step to the next and is copied only when rows are reordered.
pub struct ImageDecoder<'m> {
    model: &'m mut CaptionModel,
    /// Encoder output per image, [images, sequence, hidden].
    images: Array3<f32>,
    /// The image each decoder row belongs to.
    row_image: Vec<usize>,
    /// The encoder states for `row_image`, as the decoder's input.
    states: Option<Tensor<f32>>,
}

impl<'m> ImageDecoder<'m> {
    pub(super) fn new(model: &'m mut CaptionModel, encoded: ndarray::ArrayView3<'_, f32>) -> Self {
        Self {
            row_image: (0..encoded.dim().0).collect(),
            images: encoded.to_owned(),
            states: None,
            model,
        }
    }

    fn encoder_states(&mut self, rows: usize) -> Result<&Tensor<f32>, CaptionModelError> {
        if self.row_image.len() != rows {
            // Beam search starts its beams from the one image.
            if self.images.dim().0 != 1 {
                return Err(self.model.run_error(format!(
                    "{rows} decoder rows for {} images",
                    self.images.dim().0
                )));
            }
            self.row_image = vec![0; rows];
            self.states = None;
        }
        if self.states.is_none() {
            let states = self.images.select(Axis(0), &self.row_image);
            self.states = Some(Tensor::from_array(states).map_err(|e| self.model.run_error(e))?);
        }
        self.states
            .as_ref()
            .ok_or_else(|| self.model.run_error("no encoder states"))
    }
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
        let first_step = cache.is_none();
        let no_cache = matches!(self.model.decoder, Graphs::NoCache(_));
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
        let ids = tensor(ids, self.model)?;
        let uses_past = match &self.model.decoder {
            Graphs::Split { .. } => !first_step,
            Graphs::Merged(_) => true,
            Graphs::NoCache(_) => false,
        };
        let past: Vec<DynValue> = match (uses_past, cache) {
            (false, _) => Vec::new(),
            (true, Some(KvCache(values))) => values,
            (true, None) => (0..self.model.cache_names.len())
                .map(|_| {
                    Tensor::from_array(Array4::<f32>::zeros((
                        rows,
                        self.model.heads,
                        0,
                        self.model.head_dim,
                    )))
                    .map(Tensor::into_dyn)
                    .map_err(|e| self.model.run_error(e))
                })
                .collect::<Result<_, _>>()?,
        };
        let flag = if matches!(self.model.decoder, Graphs::Merged(_)) {
            Some(
                Tensor::from_array(([1usize], vec![!first_step]))
                    .map_err(|e| self.model.run_error(e))?,
            )
        } else {
            None
        };
        self.encoder_states(rows)?;
        let model = &mut *self.model;
        let folder = model.files.folder.display().to_string();
        let run_error = |message: String| CaptionModelError::Run {
            folder: folder.clone(),
            message,
        };
        let states = self
            .states
            .as_ref()
            .ok_or_else(|| run_error("no encoder states".into()))?;
        let mut inputs: Vec<(String, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), ids),
            ("encoder_hidden_states".into(), states.into()),
        ];
        for ((name, _), value) in model.cache_names.iter().zip(&past) {
            inputs.push((name.clone(), value.into()));
        }
        if let Some(flag) = &flag {
            inputs.push(("use_cache_branch".into(), flag.into()));
        }
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
        let mut outputs = session.run(inputs).map_err(|e| run_error(e.to_string()))?;
        let logits = outputs
            .get("logits")
            .ok_or_else(|| run_error("decoder has no `logits` output".into()))?
            .try_extract_array::<f32>()
            .map_err(|e| run_error(e.to_string()))?;
        let logits = last_position(logits)
            .ok_or_else(|| run_error("logits are not [batch, sequence, vocab]".into()))?;
        let mut present = Vec::with_capacity(model.cache_names.len());
        if !no_cache {
            for (_, name) in &model.cache_names {
                let value = outputs
                    .remove(name)
                    .ok_or_else(|| run_error(format!("decoder has no `{name}` output")))?;
                present.push(value);
            }
        }
        Ok((logits, KvCache(present)))
    }

    fn reorder(&mut self, cache: KvCache, rows: &[usize]) -> Result<KvCache, CaptionModelError> {
        let row_image: Vec<usize> = rows.iter().map(|r| self.row_image[*r]).collect();
        if row_image != self.row_image {
            self.row_image = row_image;
            self.states = None;
        }
        let identity = rows.iter().enumerate().all(|(i, r)| i == *r)
            && cache
                .0
                .first()
                .and_then(|v| v.shape().first().copied())
                .is_none_or(|n| n == rows.len() as i64);
        if identity {
            return Ok(cache);
        }
        let mut reordered = Vec::with_capacity(cache.0.len());
        for value in cache.0 {
            let array = value
                .try_extract_array::<f32>()
                .map_err(|e| self.model.run_error(e))?;
            let picked = array.select(Axis(0), rows);
            reordered.push(
                Tensor::from_array(picked)
                    .map(Tensor::into_dyn)
                    .map_err(|e| self.model.run_error(e))?,
            );
        }
        Ok(KvCache(reordered))
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
fn last_position(logits: ndarray::ArrayViewD<'_, f32>) -> Option<Array2<f32>> {
    let logits = logits.into_dimensionality::<Ix3>().ok()?;
    let last = logits.dim().1.checked_sub(1)?;
    Some(logits.index_axis(Axis(1), last).to_owned())
}
