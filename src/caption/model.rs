//! A captioning model folder loaded: its files found, its JSON configuration and
//! tokenizer read, its ONNX graphs opened through `model::caption_graphs`; images encoded
//! and token ids turned back into text. Generation's `StepDecoder` is implemented here
//! for the ONNX decoder, so `model` needs nothing from `caption`.

use std::path::Path;

use ndarray::{Array2, Array3, Array4};

use super::configs::{read_cache_geometry, read_generation, read_preprocess};
use super::configs::{Generation, Preprocess};
use super::folder::{locate, ModelFiles};
use super::generate::StepDecoder;
use super::CaptionModelError;
use crate::model::caption_graphs::{CaptionGraphs, GraphPaths, ImageDecoder, KvCache};
use crate::model::runtime::Device;
use crate::model::session::SessionConfig;

/// A loaded captioning model.
pub struct CaptionModel {
    files: ModelFiles,
    graphs: CaptionGraphs,
    pub preprocess: Preprocess,
    pub generation: Generation,
    pub tokenizer: tokenizers::Tokenizer,
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
        let paths = GraphPaths {
            folder: &files.folder,
            encoder: &files.encoder,
            decoder: &files.decoder,
        };
        let graphs = CaptionGraphs::open(paths, config, || read_cache_geometry(&files.config))?;
        Ok(Self {
            files,
            graphs,
            preprocess,
            generation,
            tokenizer,
        })
    }

    /// Where the model runs.
    pub fn device(&self) -> Device {
        self.graphs.device()
    }

    /// The folder's files.
    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// Which decoder form is in use (`split`, `merged` or `no-cache`).
    pub fn decoder_form(&self) -> &'static str {
        self.graphs.decoder_form()
    }

    /// Whether what the decoder computes from the encoder states alone (cross-attention
    /// keys and values) runs once per set of images rather than at every token.
    pub fn image_part_split_off(&self) -> bool {
        self.graphs.image_part_split_off()
    }

    /// Runs the encoder on a batch of `pixel_values`: [N, sequence, hidden].
    ///
    /// # Errors
    /// ONNX Runtime fails.
    pub fn encode(&mut self, pixel_values: Array4<f32>) -> Result<Array3<f32>, CaptionModelError> {
        Ok(self.graphs.encode(pixel_values)?)
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
        self.graphs.decoder_for(encoded)
    }

    /// A step decoder with one row per image of `encoded` ([images, sequence, hidden]),
    /// for greedy search over many images at once.
    pub fn batch_decoder(&mut self, encoded: ndarray::ArrayView3<'_, f32>) -> ImageDecoder<'_> {
        self.graphs.batch_decoder(encoded)
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
        Ok(ImageDecoder::step(self, sequences, cache)?)
    }

    fn reorder(&mut self, cache: KvCache, rows: &[usize]) -> Result<KvCache, CaptionModelError> {
        Ok(ImageDecoder::reorder(self, cache, rows)?)
    }
}
