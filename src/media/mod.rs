//! Everything that talks to ffmpeg: opening and decoding inputs, colour conversion,
//! encoding, muxing with copied streams, and still-image input and output.

pub mod color;
pub mod container_codec;
pub mod decode;
pub mod decode_graph;
pub mod encode;
pub mod encoder_names;
pub mod error;
pub mod ffmpeg_log;
pub mod filter_graph;
pub mod frame_size;
pub mod graph_timing;
pub mod hardware_decoder;
pub mod hardware_encoder;
pub mod image_io;

pub mod layout;
pub mod mux;
pub mod muxer_format;
pub mod post_filter;
pub mod rgb_frames;
pub mod subtitle_mux;

pub use error::MediaError;

use std::sync::Once;

static INIT: Once = Once::new();

/// Initialises ffmpeg once per process and keeps its log off the terminal: problems
/// reach the user through our errors, which carry ffmpeg's message and, where ffmpeg
/// logged why, its explanation ([`ffmpeg_log`]).
pub fn init() {
    INIT.call_once(|| {
        // Registration cannot fail with the system libraries; an error here would only
        // mean a broken installation, which the first open reports anyway.
        let _ = ffmpeg_next::init();
        ffmpeg_log::install();
    });
}
