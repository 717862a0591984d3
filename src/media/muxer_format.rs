//! Which ffmpeg muxer writes an output. The containers FrameForge treats differently
//! (Matroska keeps attachments and caption tracks and needs its timestamps handled,
//! WebM shares that muxer) are variants; any other muxer goes by its ffmpeg name.

use std::fmt;

/// An ffmpeg muxer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MuxerFormat {
    Matroska,
    WebM,
    Mp4,
    Mov,
    Avi,
    /// MPEG program stream as on a DVD.
    Vob,
    MpegTs,
    /// Any other muxer, by its ffmpeg name.
    Other(String),
}

impl MuxerFormat {
    /// The muxer ffmpeg calls `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name {
            "matroska" => Self::Matroska,
            "webm" => Self::WebM,
            "mp4" => Self::Mp4,
            "mov" => Self::Mov,
            "avi" => Self::Avi,
            "vob" => Self::Vob,
            "mpegts" => Self::MpegTs,
            other => Self::Other(other.to_string()),
        }
    }

    /// The muxer for a file with extension `extension` (any case); an extension that
    /// names no known container is taken as a muxer name, as ffmpeg would.
    #[must_use]
    pub fn for_extension(extension: &str) -> Self {
        let extension = extension.to_ascii_lowercase();
        match extension.as_str() {
            "mkv" => Self::Matroska,
            "m4v" => Self::Mp4,
            "mpg" | "mpeg" => Self::Vob,
            "ts" | "m2ts" | "mts" => Self::MpegTs,
            other => Self::from_name(other),
        }
    }

    /// ffmpeg's name of the muxer.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Matroska => "matroska",
            Self::WebM => "webm",
            Self::Mp4 => "mp4",
            Self::Mov => "mov",
            Self::Avi => "avi",
            Self::Vob => "vob",
            Self::MpegTs => "mpegts",
            Self::Other(name) => name,
        }
    }

    /// Matroska or its WebM subset, which share a muxer and its timestamp handling.
    #[must_use]
    pub fn is_matroska_family(&self) -> bool {
        matches!(self, Self::Matroska | Self::WebM)
    }
}

impl fmt::Display for MuxerFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::MuxerFormat;

    #[test]
    fn extensions_choose_the_muxer_ffmpeg_would() {
        let muxer = |ext: &str| MuxerFormat::for_extension(ext).name().to_string();
        assert_eq!(muxer("MKV"), "matroska");
        assert_eq!(muxer("webm"), "webm");
        assert_eq!(muxer("m4v"), "mp4");
        assert_eq!(muxer("mpeg"), "vob");
        assert_eq!(muxer("m2ts"), "mpegts");
        assert_eq!(muxer("flv"), "flv");
        assert_eq!(
            MuxerFormat::for_extension("matroska"),
            MuxerFormat::Matroska
        );
    }
}
