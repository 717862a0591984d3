//! The `caption` stage: sampled frames (or a still) become captions with an
//! encoder-decoder model. Frames are reduced to the model's small input as soon as they
//! are sampled, so no full-resolution copy waits for the captioner.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use image::RgbImage;
use ndarray::{Array3, Array4, Axis};

use crate::caption::configs::Preprocess;
use crate::caption::generate::{generate, greedy_batch, Settings};
use crate::caption::model::CaptionModel;
use crate::caption::preprocess::pixel_values;
use crate::caption::sampler::SamplingMode;
use crate::caption::CaptionModelError;
use crate::model::session::SessionConfig;

use super::gathering::Gathering;
use super::pool::LazyPool;

/// A checked caption stage: what to load and how to sample and generate.
#[derive(Debug, Clone)]
pub struct CaptionSetup {
    pub model: PathBuf,
    pub variant: String,
    pub sampling: SamplingMode,
    pub generation: Settings,
    pub preprocess: Preprocess,
    pub batch: usize,
    pub mux: bool,
    /// Sessions of the captioners of video frames: one of many running at once.
    pub session: SessionConfig,
    /// Sessions of the one captioner of a run's gathered stills, with the run's whole
    /// thread budget: a batch of stills runs fastest on one captioner whose encoder
    /// splits its matrices over every core and whose decoder steps serve every still
    /// (3.2× `generate()` at 2 threads against 1.25× for two one-thread captioners; see
    /// BENCHMARKS.md).
    pub still_session: SessionConfig,
    /// The captioner loaded to check the model (with `still_session`), kept for the
    /// first one a run needs.
    pub checked: CheckedCaptioner,
    /// What the model's card warns of (a demonstration model), said once per command.
    pub warning: Option<String>,
}

/// A captioner loaded once at load time, so that a run does not load the model a second
/// time for its first captioner (a real-size model takes seconds and gigabytes).
#[derive(Clone, Default)]
pub struct CheckedCaptioner(Arc<Mutex<Option<Captioner>>>);

impl CheckedCaptioner {
    /// Keeps `captioner` for the first taker.
    pub fn holding(captioner: Captioner) -> Self {
        Self(Arc::new(Mutex::new(Some(captioner))))
    }

    /// The kept captioner, once.
    fn take(&self) -> Option<Captioner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl std::fmt::Debug for CheckedCaptioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckedCaptioner")
    }
}

/// A caption with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    pub text: String,
    pub tokens: Vec<i64>,
    pub mean_log_prob: f32,
}

/// A loaded captioner.
pub struct Captioner {
    model: CaptionModel,
    generation: Settings,
}

impl CaptionSetup {
    /// The captioner of stills: the one loaded at load time if no one took it yet, else
    /// a new one like it.
    ///
    /// # Errors
    /// The model folder cannot be loaded.
    pub fn load(&self) -> Result<Captioner, CaptionModelError> {
        match self.checked.take() {
            Some(checked) => Ok(checked),
            None => self.load_with(self.still_session),
        }
    }

    /// A captioner of video frames: the one loaded at load time when `take_checked` and
    /// no one took it yet (a run without stills has no other use for it), else a new
    /// one-of-many.
    ///
    /// # Errors
    /// The model folder cannot be loaded.
    pub fn load_for_frames(&self, take_checked: bool) -> Result<Captioner, CaptionModelError> {
        match take_checked.then(|| self.checked.take()).flatten() {
            Some(checked) => Ok(checked),
            None => self.load_with(self.session),
        }
    }

    fn load_with(&self, session: SessionConfig) -> Result<Captioner, CaptionModelError> {
        Ok(Captioner::new(
            CaptionModel::load(&self.model, &self.variant, session)?,
            self.generation.clone(),
        ))
    }

    /// A frame as the model's input, [3, H, W].
    pub fn prepare(&self, frame: &RgbImage) -> Array3<f32> {
        pixel_values(&[frame], &self.preprocess).index_axis_move(Axis(0), 0)
    }
}

impl Captioner {
    /// `model` generating with `generation`.
    pub fn new(model: CaptionModel, generation: Settings) -> Self {
        Self { model, generation }
    }

    /// Captions prepared frames: one encoder run for the batch, then greedy search for
    /// all frames at once (one decoder row each), or beam search frame by frame.
    ///
    /// # Errors
    /// The model fails.
    pub fn caption(&mut self, prepared: &[Array3<f32>]) -> Result<Vec<Caption>, CaptionModelError> {
        if prepared.is_empty() {
            return Ok(Vec::new());
        }
        let views: Vec<_> = prepared.iter().map(|p| p.view()).collect();
        let batch: Array4<f32> =
            ndarray::stack(Axis(0), &views).map_err(|e| CaptionModelError::Run {
                folder: self.model.files().folder.display().to_string(),
                message: format!("frames of different sizes: {e}"),
            })?;
        let encoded = self.model.encode(batch)?;
        let generated = if self.generation.beams <= 1 {
            let mut decoder = self.model.batch_decoder(encoded.view());
            greedy_batch(&mut decoder, &self.generation, prepared.len())?
        } else {
            let mut each = Vec::with_capacity(prepared.len());
            for row in encoded.outer_iter() {
                let mut decoder = self.model.decoder_for(row);
                each.push(generate(&mut decoder, &self.generation)?);
            }
            each
        };
        let mut captions = Vec::with_capacity(prepared.len());
        for generated in generated {
            captions.push(Caption {
                text: self.model.decode_text(&generated.tokens)?,
                tokens: generated.tokens,
                mean_log_prob: generated.mean_log_prob,
            });
        }
        Ok(captions)
    }
}

/// The shared captioners of a run: several of video frames (each video's sampled frames
/// already make batches) and one of stills, which takes the stills of every file waiting
/// at the same time.
pub struct CaptionPool {
    frame_captioners: LazyPool<Captioner, CaptionModelError>,
    still_captioner: LazyPool<Captioner, CaptionModelError>,
    stills: Gathering<Array3<f32>, Result<Caption, CaptionModelError>>,
    /// How many stills one captioner takes at once (the stage's `batch`).
    batch: usize,
    folder: String,
}

/// The captioners for `setup`: at most `capacity` of video frames and one of stills.
/// `stills_expected`: the run has stills to caption, so the captioner loaded at load time
/// (made for stills) is kept for them.
pub fn caption_pool(setup: &CaptionSetup, capacity: usize, stills_expected: bool) -> CaptionPool {
    let batch = setup.batch;
    let folder = setup.model.display().to_string();
    let for_frames = setup.clone();
    let for_stills = setup.clone();
    CaptionPool {
        frame_captioners: LazyPool::new(capacity, move || {
            for_frames.load_for_frames(!stills_expected)
        }),
        still_captioner: LazyPool::new(1, move || for_stills.load()),
        stills: Gathering::default(),
        batch,
        folder,
    }
}

impl CaptionPool {
    /// How many captioners of video frames may run at once.
    pub fn capacity(&self) -> usize {
        self.frame_captioners.capacity()
    }

    /// Runs `work` with a captioner of video frames, waiting for one to be free.
    ///
    /// # Errors
    /// A new captioner cannot be loaded.
    pub fn with<R>(&self, work: impl FnOnce(&mut Captioner) -> R) -> Result<R, CaptionModelError> {
        self.frame_captioners.with(work)
    }

    /// Captions one prepared still, together with the stills of other files waiting at
    /// the same time (a batch of greedy captions shares every decoder step; each caption
    /// is the one it would get alone).
    ///
    /// # Errors
    /// A captioner cannot be loaded, or the model fails on this still.
    pub fn caption_still(&self, prepared: Array3<f32>) -> Result<Caption, CaptionModelError> {
        let answer =
            self.stills
                .submit(prepared, &self.still_captioner, self.batch, caption_each)?;
        answer.unwrap_or_else(|| {
            Err(CaptionModelError::Run {
                folder: self.folder.clone(),
                message: "the captioner stopped before answering".into(),
            })
        })
    }
}

/// Captions `stills` as one batch; when the batch fails, each alone, so that one
/// still's failure is only its own.
fn caption_each(
    captioner: &mut Captioner,
    stills: Vec<Array3<f32>>,
) -> Vec<Result<Caption, CaptionModelError>> {
    match captioner.caption(&stills) {
        Ok(captions) if captions.len() == stills.len() => captions.into_iter().map(Ok).collect(),
        failed if stills.len() == 1 => vec![failed.and_then(|mut captions| {
            captions.pop().ok_or_else(|| CaptionModelError::Run {
                folder: captioner.model.files().folder.display().to_string(),
                message: "the captioner returned nothing".into(),
            })
        })],
        _ => stills
            .into_iter()
            .flat_map(|still| caption_each(captioner, vec![still]))
            .collect(),
    }
}
