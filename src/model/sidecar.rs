//! The optional `NAME.yaml` beside a restoration model: scale, value range, tiling
//! defaults and provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What a sidecar may declare; every field is optional so a user's hand-written sidecar
/// can say only what it knows.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RestoreSidecar {
    pub kind: Option<String>,
    pub scale: Option<u32>,
    /// Heights and widths the model takes must be multiples of this (window-attention
    /// models); found by probing when not given.
    pub multiple: Option<u32>,
    /// Values for inputs other than the frame (a noise level, say), each filled into the
    /// whole tensor.
    pub constants: Option<BTreeMap<String, f32>>,
    pub range: Option<[f32; 2]>,
    pub tile: Option<u32>,
    /// Context added around each tile at the image border (reflected), as the original
    /// Real-ESRGAN wrapper does.
    pub tile_pad: Option<u32>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub source: Option<String>,
    pub license: Option<String>,
    /// What the model is for (live-action film, anime, JPEG-damaged photos…).
    pub content: Option<String>,
    pub sha256: Option<String>,
}

/// Errors while reading a sidecar.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

/// The sidecar path for a model: the same name with `.yaml`.
pub fn sidecar_path(model: &Path) -> PathBuf {
    model.with_extension("yaml")
}

/// Reads the sidecar of `model` if there is one.
///
/// # Errors
/// The sidecar exists but cannot be read or parsed.
pub fn read_sidecar(model: &Path) -> Result<Option<RestoreSidecar>, SidecarError> {
    let path = sidecar_path(model);
    if !path.exists() {
        return Ok(None);
    }
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| SidecarError::Read {
        path: shown.clone(),
        source,
    })?;
    let sidecar: RestoreSidecar = serde_yaml::from_str(&text).map_err(|e| {
        let message = match e.location() {
            Some(at) => format!("{}:{}: {e}", at.line(), at.column()),
            None => e.to_string(),
        };
        SidecarError::Parse {
            path: shown.clone(),
            message,
        }
    })?;
    if sidecar.scale == Some(0) {
        return Err(SidecarError::Parse {
            path: shown,
            message: "scale 0 is invalid (expected >= 1)".into(),
        });
    }
    Ok(Some(sidecar))
}
