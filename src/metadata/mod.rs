//! XMP metadata written with the outputs, in the form archive tools (digiKam, darktable,
//! Lightroom, PhotoPrism, Immich, exiftool) read: the caption as `dc:description` and
//! IPTC alt text, the IPTC digital source type of a restored file, and what was done to
//! it as an `xmpMM:History` event. The source's own metadata (its XMP, and the IPTC-IIM
//! and EXIF the XMP Toolkit reconciles into XMP) is carried over, not replaced.
//!
//! Owns the Adobe XMP Toolkit (`xmp_toolkit`): it reads and writes XMP inside PNG, JPEG,
//! TIFF, MP4 and MOV files the way Adobe's own tools do.

mod packet;

use std::path::{Path, PathBuf};

pub use packet::{Provenance, XmpFacts};

/// Errors while making or writing XMP.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("cannot make its XMP metadata: {0}")]
    Build(String),
    #[error("cannot write XMP metadata into {path}: {reason}")]
    Embed { path: PathBuf, reason: String },
}

/// Where a file's XMP goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmpPlace {
    /// Inside the file (PNG, MP4, MOV).
    Embedded,
    /// In `NAME.EXT.xmp` beside it (the name digiKam and darktable look for).
    Sidecar,
}

/// Whether XMP can be written inside files with this extension.
pub fn can_embed(path: &Path) -> bool {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    matches!(
        extension.as_deref(),
        Some("png" | "jpg" | "jpeg" | "tif" | "tiff" | "mp4" | "m4v" | "mov")
    )
}

/// The sidecar path for `file`: `clip.mkv` → `clip.mkv.xmp`.
pub fn sidecar_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".xmp");
    PathBuf::from(name)
}

pub use packet::Xmp;
