//! Everything that talks to ONNX Runtime: the library and environment, sessions per
//! device, restoration models, captioning graphs, and tiled inference.

pub mod bound_run;
pub mod caption_checks;
pub mod caption_decoder;
pub mod caption_graphs;
pub mod engine_build;
pub mod feed;
pub mod float16_check;
pub mod gpu_libraries;
pub mod half_precision;
pub mod image_part;
pub mod onnx_file;
pub mod onnx_write;
pub mod probe;
pub mod protobuf;
pub mod providers;
pub mod resample;
pub mod restore_model;
pub mod runtime;
pub mod session;
pub mod shared_weights;
pub mod sidecar;
pub mod signature;
pub mod tensorrt_profile;
pub mod tile;
pub mod tile_run;
