//! Turning the pipeline's `stages` into what runs: the filter chain for the decode side
//! and the restoration models, checked once at load time and opened again per worker.

use std::path::PathBuf;

use crate::config::{LoadedPipeline, Problems, StageSpec, DEFAULT_TILE};
use crate::model::restore_model::{RestoreModel, RestoreModelError};
use crate::model::runtime::Device;
use crate::model::session::SessionConfig;
use crate::model::tile::TileLayout;

use super::restore::RestoreStage;
use super::FrameStage;

/// Reflected border added around a frame when a model's sidecar does not say (the
/// Real-ESRGAN convention).
const DEFAULT_TILE_PAD: u32 = 10;

/// Errors while running stages.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Model(#[from] RestoreModelError),
}

/// One restoration step.
#[derive(Debug, Clone)]
struct RestoreStep {
    model: PathBuf,
    layout: TileLayout,
}

/// The checked stage list of a pipeline.
#[derive(Debug, Clone)]
pub struct StagePlan {
    filters: Vec<String>,
    restores: Vec<RestoreStep>,
    scale: u32,
    device: Option<Device>,
    session: SessionConfig,
}

impl StagePlan {
    /// Checks the stages of `loaded`: opens every model once, checks its interface, and
    /// reads its scale and tiling defaults. Problems point into the pipeline file.
    ///
    /// # Errors
    /// Every model or stage-order problem, each at its place in the file.
    pub fn check(loaded: &LoadedPipeline, session: SessionConfig) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let mut filters = Vec::new();
        let mut restores = Vec::new();
        let mut scale = 1;
        let mut device = None;
        for (position, stage) in loaded.pipeline.stages.iter().enumerate() {
            let key = stage.key_path(position);
            match stage {
                StageSpec::Filter(graph) => {
                    if restores.is_empty() {
                        filters.push(graph.clone());
                    } else {
                        problems.push(loaded.problem(
                            &key,
                            "a filter stage after a restore stage is not supported yet \
                             (move it before the first restore stage)",
                        ));
                    }
                }
                StageSpec::Restore(spec) => match RestoreModel::load(&spec.model, session) {
                    Ok(model) => {
                        let sidecar = model.sidecar();
                        let layout = TileLayout {
                            tile: spec.tile.or(sidecar.tile).unwrap_or(DEFAULT_TILE),
                            overlap: spec.tile_overlap,
                            pad: sidecar.tile_pad.unwrap_or(DEFAULT_TILE_PAD),
                        };
                        scale *= model.scale();
                        device.get_or_insert(model.device());
                        restores.push(RestoreStep {
                            model: spec.model.clone(),
                            layout,
                        });
                    }
                    Err(error) => {
                        problems.push(loaded.problem(&format!("{key}.model"), error.to_string()))
                    }
                },
            }
        }
        if !problems.is_empty() {
            problems.sort();
            return Err(problems);
        }
        Ok(Self {
            filters,
            restores,
            scale,
            device,
            session,
        })
    }

    /// libavfilter chains applied on the decode side, in order.
    pub fn filters(&self) -> &[String] {
        &self.filters
    }

    /// The product of the restoration scales.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Where the models run (`None` without restore stages).
    pub fn device(&self) -> Option<Device> {
        self.device
    }

    /// Fresh stage instances with their own sessions, for one worker.
    ///
    /// # Errors
    /// A model cannot be opened again.
    pub fn instantiate(&self) -> Result<Vec<Box<dyn FrameStage>>, StageError> {
        self.restores
            .iter()
            .map(|step| {
                let model = RestoreModel::load(&step.model, self.session)?;
                Ok(Box::new(RestoreStage::new(model, step.layout)) as Box<dyn FrameStage>)
            })
            .collect()
    }
}
