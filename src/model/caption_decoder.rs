//! The captioning decoder bound to a set of images, as generation drives it: one step for
//! a set of rows (one per image, or one per beam of one image), through whichever
//! decoder graphs the model has. What the decoder reads of the images (the encoder
//! states, or what the split-off image part makes of them) is computed once and again
//! only when the rows change; the key/value cache stays in ONNX Runtime's tensors from
//! one step to the next and is copied only when rows are reordered.
//!
//! Generation's `StepDecoder` trait is implemented for it in `caption::model`, so this
//! module stays free of what generation is.

use ndarray::{Array2, Array3, Array4, Axis, Ix3};
use ort::session::{Session, SessionInputValue, SessionOutputs};
use ort::value::{DynValue, Tensor};

use super::caption_checks::ENCODER_STATES;
use super::caption_graphs::{run_error, CachePair, CaptionGraphError, CaptionGraphs, Graphs};

/// The decoder's key/value cache, one ONNX Runtime tensor per cached input.
pub struct KvCache(Vec<DynValue>);

/// The decoder bound to a set of images.
pub struct ImageDecoder<'m> {
    model: &'m mut CaptionGraphs,
    /// Encoder output per image, [images, sequence, hidden].
    images: Array3<f32>,
    /// The image each decoder row belongs to.
    row_image: Vec<usize>,
    /// What every step reads of the images of `row_image`, by input name.
    image_inputs: Option<Vec<(String, DynValue)>>,
}

impl<'m> ImageDecoder<'m> {
    pub(super) fn new(model: &'m mut CaptionGraphs, encoded: ndarray::ArrayView3<'_, f32>) -> Self {
        Self {
            row_image: (0..encoded.dim().0).collect(),
            images: encoded.to_owned(),
            image_inputs: None,
            model,
        }
    }

    /// Logits at the last position, [rows, vocab], for each row's full token sequence
    /// (all rows have one length; cached decoders read only the newest token), and the
    /// updated cache. Without `cache` this is the first step.
    ///
    /// # Errors
    /// ONNX Runtime fails, or the decoder's outputs are not what it was checked to have.
    pub fn step(
        &mut self,
        sequences: &[Vec<i64>],
        cache: Option<KvCache>,
    ) -> Result<(Array2<f32>, KvCache), CaptionGraphError> {
        let rows = sequences.len();
        let first_step = cache.is_none();
        let ids = self.input_ids(sequences, first_step)?;
        let past = self.past_values(rows, cache)?;
        let flag = self.cache_branch_flag(first_step)?;
        self.prepare_image_inputs(rows)?;
        let model = &mut *self.model;
        let image_inputs = self
            .image_inputs
            .as_ref()
            .ok_or_else(|| model.run_error("no encoder states"))?;
        let mut inputs: Vec<(String, SessionInputValue<'_>)> = vec![("input_ids".into(), ids)];
        for (name, value) in image_inputs {
            inputs.push((name.clone(), value.into()));
        }
        for (pair, value) in model.cache_pairs.iter().zip(&past) {
            inputs.push((pair.past.clone(), value.into()));
        }
        if let Some(flag) = &flag {
            inputs.push(("use_cache_branch".into(), flag.into()));
        }
        let no_cache = matches!(model.decoder, Graphs::NoCache(_));
        // The outputs borrow the session; errors name the folder, a field apart from it.
        let folder = &model.folder;
        let session = step_session(&mut model.decoder);
        let mut outputs = session.run(inputs).map_err(|e| run_error(folder, e))?;
        let logits = logits(&outputs).map_err(|message| run_error(folder, message))?;
        let present = if no_cache {
            Vec::new()
        } else {
            present_values(&mut outputs, &model.cache_pairs)
                .map_err(|message| run_error(folder, message))?
        };
        Ok((logits, KvCache(present)))
    }

    /// The cache with its rows picked (and repeated) by `rows`; the encoder states
    /// follow, so row `i` of the next step continues what row `rows[i]` was.
    ///
    /// # Errors
    /// The cache cannot be rebuilt.
    pub fn reorder(
        &mut self,
        cache: KvCache,
        rows: &[usize],
    ) -> Result<KvCache, CaptionGraphError> {
        let row_image: Vec<usize> = rows.iter().map(|r| self.row_image[*r]).collect();
        if row_image != self.row_image {
            self.row_image = row_image;
            self.image_inputs = None;
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

    /// `input_ids`: the newest token of each row, or the whole sequences on the first
    /// step and always for a decoder without cache.
    fn input_ids(
        &self,
        sequences: &[Vec<i64>],
        first_step: bool,
    ) -> Result<SessionInputValue<'static>, CaptionGraphError> {
        let no_cache = matches!(self.model.decoder, Graphs::NoCache(_));
        let width = if first_step || no_cache {
            sequences.first().map_or(1, Vec::len)
        } else {
            1
        };
        let mut ids = Array2::<i64>::zeros((sequences.len(), width));
        for (r, sequence) in sequences.iter().enumerate() {
            for (c, token) in sequence[sequence.len() - width..].iter().enumerate() {
                ids[[r, c]] = *token;
            }
        }
        Tensor::from_array(ids)
            .map(Into::into)
            .map_err(|e| self.model.run_error(e))
    }

    /// The cache tensors to feed: none where the graph takes no past, the last step's,
    /// or on the first step empty ones.
    fn past_values(
        &self,
        rows: usize,
        cache: Option<KvCache>,
    ) -> Result<Vec<DynValue>, CaptionGraphError> {
        let uses_past = !matches!(self.model.decoder, Graphs::NoCache(_));
        match (uses_past, cache) {
            (false, _) => Ok(Vec::new()),
            (true, Some(KvCache(values))) => Ok(values),
            (true, None) => {
                let geometry = self.model.cache;
                (0..self.model.cache_pairs.len())
                    .map(|_| {
                        Tensor::from_array(Array4::<f32>::zeros((
                            rows,
                            geometry.heads,
                            0,
                            geometry.head_dim,
                        )))
                        .map(Tensor::into_dyn)
                        .map_err(|e| self.model.run_error(e))
                    })
                    .collect()
            }
        }
    }

    /// The merged graph's `use_cache_branch` switch: off on the first step only.
    fn cache_branch_flag(
        &self,
        first_step: bool,
    ) -> Result<Option<Tensor<bool>>, CaptionGraphError> {
        if matches!(self.model.decoder, Graphs::Merged(_)) {
            Tensor::from_array(([1usize], vec![!first_step]))
                .map(Some)
                .map_err(|e| self.model.run_error(e))
        } else {
            Ok(None)
        }
    }

    /// Computes what the steps read of the images for `rows` rows, unless done: the
    /// encoder states of each row's image, run through the image part when there is one.
    fn prepare_image_inputs(&mut self, rows: usize) -> Result<(), CaptionGraphError> {
        if self.row_image.len() != rows {
            // Beam search starts its beams from the one image.
            if self.images.dim().0 != 1 {
                return Err(self.model.run_error(format!(
                    "{rows} decoder rows for {} images",
                    self.images.dim().0
                )));
            }
            self.row_image = vec![0; rows];
            self.image_inputs = None;
        }
        if self.image_inputs.is_some() {
            return Ok(());
        }
        let model = &mut *self.model;
        let states = Tensor::from_array(self.images.select(Axis(0), &self.row_image))
            .map_err(|e| model.run_error(e))?
            .into_dyn();
        let mut inputs = Vec::new();
        if let Graphs::WithPast {
            image: Some(part), ..
        } = &mut model.decoder
        {
            let folder = &model.folder;
            let mut outputs = part
                .session
                .run(ort::inputs![ENCODER_STATES => &states])
                .map_err(|e| run_error(folder, e))?;
            for name in &part.outputs {
                let value = outputs
                    .remove(name)
                    .ok_or_else(|| run_error(folder, format!("image part has no `{name}`")))?;
                inputs.push((name.clone(), value));
            }
        }
        if model.steps_read_states {
            inputs.push((ENCODER_STATES.to_string(), states));
        }
        self.image_inputs = Some(inputs);
        Ok(())
    }
}

/// The graph every step runs.
fn step_session(decoder: &mut Graphs) -> &mut Session {
    match decoder {
        Graphs::WithPast { step, .. } => step,
        Graphs::Merged(s) | Graphs::NoCache(s) => s,
    }
}

/// The logits at the last position, [rows, vocab].
fn logits(outputs: &SessionOutputs<'_>) -> Result<Array2<f32>, String> {
    let logits = outputs
        .get("logits")
        .ok_or_else(|| "decoder has no `logits` output".to_string())?
        .try_extract_array::<f32>()
        .map_err(|e| e.to_string())?;
    last_position(logits).ok_or_else(|| "logits are not [batch, sequence, vocab]".to_string())
}

/// The updated cache, taken out of the outputs without a copy.
fn present_values(
    outputs: &mut SessionOutputs<'_>,
    pairs: &[CachePair],
) -> Result<Vec<DynValue>, String> {
    pairs
        .iter()
        .map(|pair| {
            outputs
                .remove(&pair.present)
                .ok_or_else(|| format!("decoder has no `{}` output", pair.present))
        })
        .collect()
}

/// [batch, sequence, vocab] → the last position, [batch, vocab].
fn last_position(logits: ndarray::ArrayViewD<'_, f32>) -> Option<Array2<f32>> {
    let logits = logits.into_dimensionality::<Ix3>().ok()?;
    let last = logits.dim().1.checked_sub(1)?;
    Some(logits.index_axis(Axis(1), last).to_owned())
}
