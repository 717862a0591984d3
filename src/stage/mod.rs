//! Stages: the work done on every frame. `filter` stages run inside ffmpeg's filter graph
//! on the decode side; `restore` stages run on RGB frames in the inference workers, one
//! [`RestoreStage`] instance (and one model session) per stage and worker. Restoration
//! is the only per-frame stage run here (filters run in ffmpeg, captions on samples), so
//! it is a struct rather than a trait with one implementation.

pub mod caption;
pub mod frame;
pub mod gathering;
pub mod plan;
pub mod pool;
pub mod restore;
pub mod still_tiles;

pub use plan::{StageError, StagePlan};
pub use pool::StagePool;
pub use restore::RestoreStage;
