//! FrameForge: batch restoration of film, video and image archives with YAML pipelines,
//! ffmpeg and ONNX Runtime.

pub mod app;
pub mod batch;
pub mod cancel;
pub mod caption;
pub mod cli;
pub mod config;
pub mod discover;
pub mod file_progress;
pub mod inspect;
pub mod job;
pub mod media;
pub mod metadata;
pub mod model;
pub mod output_file;
pub mod process;
pub mod progress;
pub mod report;
pub mod stage;
pub mod temporaries;
