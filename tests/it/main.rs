//! FrameForge's integration tests, one binary (linking FFmpeg and ONNX Runtime once):
//! each module tests one area through the real binary or library on committed fixtures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod util;

mod after_restore;
mod bad_inputs;
mod batch_bad_inputs;
mod batch_cli;
mod batch_decode_errors;
mod batch_dry_run;
mod batch_lock_signals;
mod batch_report;
mod batch_resume;
mod batch_shard;
mod caption_outputs;
mod caption_reference;
mod caption_search;
mod config_load;
mod decode_conversion;
mod frame_rate;
mod model_conventions;
mod precision;
mod recipes;
mod report_history;
mod restore_images;
mod restore_models;
mod slurm_array;
mod speed_cli;
mod terminal_progress;
mod tile_batch;
mod validate_cli;
mod video_checkpoints;
mod video_containers;
mod video_depth;
mod video_outputs;
mod xmp_metadata;
