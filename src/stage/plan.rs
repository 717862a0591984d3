//! Turning the pipeline's `stages` into what runs: the filter chain for the decode side
//! and the restoration models, checked once at load time and opened again per worker.

use std::path::PathBuf;

use crate::caption::card::card_warning;
use crate::caption::generate::Settings;
use crate::caption::model::CaptionModel;
use crate::caption::sampler::SamplingMode;
use crate::caption::CaptionModelError;
use crate::config::Device as DeviceSetting;
use crate::config::{
    parse_duration, CaptionSpec, Draft, Problems, RestoreSpec, StageSpec, DEFAULT_TILE,
};
use crate::model::engine_build::timed_engine_at_open;
use crate::model::restore_model::{ModelInterface, RestoreModel, RestoreModelError};
use crate::model::runtime::Device;
use crate::model::session::SessionConfig;
use crate::model::tensorrt_profile::ShapeProfile;
use crate::model::tile::{tiles, TileLayout};

use super::caption::{CaptionSetup, Captioner, CheckedCaptioner};
use super::restore::RestoreStage;

/// Reflected border added around a frame when a model's sidecar does not say (the
/// Real-ESRGAN convention).
const DEFAULT_TILE_PAD: u32 = 10;

/// Errors while running stages.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Model(#[from] RestoreModelError),
}

/// One restoration step: the model, what its first load found out, and how it tiles.
#[derive(Debug, Clone)]
struct RestoreStep {
    model: PathBuf,
    interface: ModelInterface,
    output_scale: Option<u32>,
    layout: TileLayout,
    /// The window shapes TensorRT builds its engine for (on TensorRT, where known).
    profile: Option<ShapeProfile>,
}

/// Consecutive filter stages, run as one libavfilter chain.
#[derive(Debug, Clone, Default)]
pub struct FilterChain {
    chains: Vec<String>,
    /// The key path of the last of them (`stages[3].filter`), where problems with the
    /// chain's output are reported.
    last_key: Option<String>,
}

impl FilterChain {
    fn push(&mut self, chain: String, key: String) {
        self.chains.push(chain);
        self.last_key = Some(key);
    }

    /// The stages' chains, in order.
    pub fn chains(&self) -> &[String] {
        &self.chains
    }

    /// The stages as one chain (`None` without any).
    pub fn joined(&self) -> Option<String> {
        (!self.chains.is_empty()).then(|| self.chains.join(","))
    }

    /// The key path of the last of these stages.
    pub fn last_key(&self) -> Option<&str> {
        self.last_key.as_deref()
    }
}

/// The checked stage list of a pipeline.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// Filters before the first restore stage, on the decode side.
    before: FilterChain,
    /// Filters after the last restore stage, before the encoder.
    after: FilterChain,
    restores: Vec<RestoreStep>,
    caption: Option<CaptionSetup>,
    scale: u32,
    device: Option<Device>,
    session: SessionConfig,
}

impl StagePlan {
    /// Checks the stages of `draft` that could be read: opens every model once, checks
    /// its interface, and reads its scale and tiling defaults. Problems point into the
    /// pipeline file.
    ///
    /// # Errors
    /// Every model or stage problem, each at its place in the file.
    pub fn check(draft: &Draft, session: SessionConfig) -> Result<Self, Problems> {
        Self::check_for_run(draft, session, session.intra_threads)
    }

    /// [`StagePlan::check`] for a run with `threads` inference threads in all: the
    /// captioner loaded to check the model is made with all of them, as the run's
    /// captioner of stills.
    ///
    /// # Errors
    /// Every model or stage problem, each at its place in the file.
    pub fn check_for_run(
        draft: &Draft,
        session: SessionConfig,
        threads: usize,
    ) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let mut before = FilterChain::default();
        let mut after = FilterChain::default();
        let mut restores = Vec::new();
        let mut scale = 1;
        let mut device = None;
        let mut caption = None;
        for (position, stage) in draft.stages() {
            let key = stage.key_path(position);
            if !model_exists(stage) {
                // Loading the file has said so already.
                continue;
            }
            match stage {
                // Its place in the list is a rule of the file, checked when it is read.
                StageSpec::Caption(spec) => match caption_setup(spec, session, threads) {
                    Ok((setup, model_device)) => {
                        device.get_or_insert(model_device);
                        caption = Some(setup);
                    }
                    Err(error) => {
                        problems.push(draft.problem(&format!("{key}.model"), error.to_string()))
                    }
                },
                StageSpec::Filter(graph) => {
                    if let Err(error) = crate::media::filter_graph::check_chain(graph) {
                        problems.push(draft.problem(&key, error.to_string()));
                    } else if restores.is_empty() {
                        before.push(graph.clone(), key);
                    } else {
                        after.push(graph.clone(), key);
                    }
                }
                StageSpec::Restore(spec) => match restore_step(spec, session) {
                    // Restoration runs frame by frame on many workers at once; a chain
                    // between two models would have to see the frames in order.
                    Ok(_) if after.last_key.is_some() => problems.push(draft.problem(
                        after.last_key.as_deref().unwrap_or(&key),
                        "a filter stage between two restore stages is not supported \
                         (move it before the first restore stage or after the last)",
                    )),
                    Ok((step, step_scale, model_device)) => {
                        scale *= step_scale;
                        device.get_or_insert(model_device);
                        restores.push(step);
                    }
                    Err(error) => {
                        problems.push(draft.problem(&format!("{key}.model"), error.to_string()))
                    }
                },
            }
        }
        if !problems.is_empty() {
            problems.sort();
            return Err(problems);
        }
        Ok(Self {
            before,
            after,
            restores,
            caption,
            scale,
            device,
            session,
        })
    }

    /// The filter stages before restoration, applied on the decode side.
    pub fn filters_before(&self) -> &FilterChain {
        &self.before
    }

    /// The filter stages after restoration, applied to the restored frames.
    pub fn filters_after(&self) -> &FilterChain {
        &self.after
    }

    /// The caption stage, if the pipeline has one.
    pub fn caption(&self) -> Option<&CaptionSetup> {
        self.caption.as_ref()
    }

    /// Whether frames go through per-frame model stages (restoration).
    pub fn has_frame_stages(&self) -> bool {
        !self.restores.is_empty()
    }

    /// Whether the pipeline writes restored or filtered media (not only captions).
    pub fn writes_media(&self) -> bool {
        !self.restores.is_empty() || !self.before.chains.is_empty()
    }

    /// The product of the restoration scales.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Where the models run (`None` without restore stages).
    pub fn device(&self) -> Option<Device> {
        self.device
    }

    /// How many frames of `width` × `height` a worker takes at once so that the restore
    /// stages' `tile_batch` can be filled: enough frames for `tile_batch` tiles of the
    /// stage that needs most, and 1 when every stage runs tiles one by one.
    pub fn frames_per_run(&self, width: u32, height: u32) -> usize {
        let mut size = (width, height);
        let mut frames = 1;
        for step in &self.restores {
            let tiles = tiles(size.0, size.1, step.layout).len().max(1);
            frames = frames.max((step.layout.per_run.max(1) as usize).div_ceil(tiles));
            let scale = step.output_scale.unwrap_or(step.interface.scale);
            size = (size.0 * scale, size.1 * scale);
        }
        frames
    }

    /// Fresh stage instances with their own sessions, for one worker.
    ///
    /// # Errors
    /// A model cannot be opened again.
    pub fn instantiate(&self) -> Result<Vec<RestoreStage>, StageError> {
        self.restores
            .iter()
            .map(|step| {
                let model = RestoreModel::reopen(
                    &step.model,
                    self.session,
                    &step.interface,
                    step.profile.as_ref(),
                )?
                .with_output_scale(step.output_scale)?;
                Ok(RestoreStage::new(model, step.layout))
            })
            .collect()
    }
}

/// Whether the model a stage names is there to open (filters name none).
fn model_exists(stage: &StageSpec) -> bool {
    match stage {
        StageSpec::Restore(spec) => spec.model.is_file(),
        StageSpec::Caption(spec) => spec.model.is_dir(),
        StageSpec::Filter(_) => true,
    }
}

/// Loads a restore stage's model once to check it: the step that runs it, its scale
/// and where it runs. On TensorRT, one session is opened for the stage's windows, which
/// builds the engine its workers then read from the cache.
fn restore_step(
    spec: &RestoreSpec,
    session: SessionConfig,
) -> Result<(RestoreStep, u32, Device), RestoreModelError> {
    let model = RestoreModel::load(&spec.model, session)?.with_output_scale(spec.scale)?;
    let sidecar = model.sidecar();
    let layout = TileLayout {
        tile: spec.tile.or(sidecar.tile).unwrap_or(DEFAULT_TILE),
        overlap: spec.tile_overlap,
        pad: sidecar.tile_pad.unwrap_or(DEFAULT_TILE_PAD),
        one_shape: model.device() != Device::Cpu,
        window: model.interface().window_rule(),
        per_run: spec.tile_batch,
    };
    let mut device = model.device();
    let mut profile = None;
    if let DeviceSetting::TensorRt(_) = session.device {
        profile = ShapeProfile::for_windows(model.interface(), &layout);
        let open =
            || RestoreModel::reopen(&spec.model, session, model.interface(), profile.as_ref());
        let tensorrt = match &profile {
            Some(profile) => timed_engine_at_open(&spec.model, profile, open),
            None => open(),
        }?;
        device = tensorrt.device();
    }
    let step = RestoreStep {
        model: spec.model.clone(),
        interface: model.interface().clone(),
        output_scale: spec.scale,
        layout,
        profile,
    };
    Ok((step, model.scale(), device))
}

/// Default interval between captions when neither `every` nor `scene_threshold` is given.
const DEFAULT_EVERY: f64 = 2.0;
/// Defaults for shot-change sampling.
const DEFAULT_MIN_GAP: f64 = 1.0;
const DEFAULT_MAX_GAP: f64 = 10.0;

/// Loads the captioning model once to check it (and keeps it for the run's first
/// captioner), and settles the stage's settings from the pipeline and the model's own
/// generation config.
fn caption_setup(
    spec: &CaptionSpec,
    session: SessionConfig,
    threads: usize,
) -> Result<(CaptionSetup, Device), CaptionModelError> {
    let variant = spec
        .variant
        .as_deref()
        .map(|v| format!("_{}", v.trim_start_matches('_')))
        .unwrap_or_default();
    let still_session = SessionConfig {
        intra_threads: threads.max(1),
        ..session
    };
    let model = CaptionModel::load(&spec.model, &variant, still_session)?;
    let warning = card_warning(&spec.model)?;
    // Durations were checked when the pipeline was loaded.
    let seconds = |text: &Option<String>, default: f64| {
        text.as_deref()
            .and_then(|t| parse_duration(t).ok())
            .unwrap_or(default)
    };
    let sampling = match spec.scene_threshold {
        Some(threshold) => SamplingMode::Scene {
            threshold,
            min_gap: seconds(&spec.min_gap, DEFAULT_MIN_GAP),
            max_gap: seconds(&spec.max_gap, DEFAULT_MAX_GAP),
        },
        None => SamplingMode::Every(seconds(&spec.every, DEFAULT_EVERY)),
    };
    let config = model.generation.clone();
    let generation = Settings {
        beams: spec.beams.map_or(config.num_beams, |b| b as usize),
        max_length: spec
            .max_tokens
            .map_or(config.max_length, |t| t as usize + 1),
        no_repeat_ngram_size: spec
            .no_repeat_ngram_size
            .map_or(config.no_repeat_ngram_size, |n| n as usize),
        config,
    };
    let device = model.device();
    let setup = CaptionSetup {
        model: spec.model.clone(),
        variant,
        sampling,
        preprocess: model.preprocess.clone(),
        batch: spec.batch.max(1) as usize,
        mux: spec.mux,
        session,
        still_session,
        checked: CheckedCaptioner::holding(Captioner::new(model, generation.clone())),
        warning,
        generation,
    };
    Ok((setup, device))
}
