//! Errors of the media layer; each names what was being done and keeps ffmpeg's own
//! message.

/// A media failure.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{context}: {source}")]
    Ffmpeg {
        context: String,
        #[source]
        source: ffmpeg_next::Error,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("{context}: {source}")]
    Image {
        context: String,
        #[source]
        source: image::ImageError,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Adds what was being done to an ffmpeg error.
pub trait FfmpegContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, MediaError>;
}

impl<T> FfmpegContext<T> for Result<T, ffmpeg_next::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, MediaError> {
        self.map_err(|source| MediaError::Ffmpeg {
            context: what(),
            source,
        })
    }
}
