//! The pipeline fingerprint recorded with each finished item: a hash of everything that
//! changes what an output looks like (stages, model file contents, encode settings), and
//! of nothing that does not (paths, `existing`, thread counts).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::config::{DecodeErrorPolicy, Pipeline, StageSpec};
use crate::report::ModelRecord;

/// A pipeline's fingerprint and the restoration models it was taken over.
#[derive(Debug, Clone)]
pub struct PipelineFingerprint {
    /// Lowercase hex.
    pub hex: String,
    /// Each restore stage's model, in stage order.
    pub models: Vec<ModelRecord>,
}

/// The fingerprint of `pipeline`.
///
/// # Errors
/// A model file cannot be read.
pub fn pipeline_fingerprint(pipeline: &Pipeline) -> std::io::Result<PipelineFingerprint> {
    let mut hasher = Sha256::new();
    let mut models = Vec::new();
    for stage in &pipeline.stages {
        match stage {
            StageSpec::Filter(graph) => hasher.update(format!("filter\0{graph}\0")),
            StageSpec::Restore(restore) => {
                hasher.update(format!(
                    "restore\0{:?}\0{}\0",
                    restore.tile, restore.tile_overlap
                ));
                // Only when set, so that pipelines without it keep their fingerprints.
                if let Some(scale) = restore.scale {
                    hasher.update(format!("scale\0{scale}\0"));
                }
                let digest = file_digest(&restore.model)?;
                hasher.update(digest);
                models.push(ModelRecord {
                    file: restore.model.clone(),
                    sha256: hex(&digest),
                });
                let sidecar = restore.model.with_extension("yaml");
                if sidecar.is_file() {
                    hasher.update(file_digest(&sidecar)?);
                }
            }
            StageSpec::Caption(caption) => {
                let mut described = caption.clone();
                described.model = std::path::PathBuf::new();
                hasher.update(format!("caption\0{described:?}\0"));
                hasher.update(folder_digest(&caption.model)?);
            }
        }
    }
    hasher.update(format!("{:?}", pipeline.encode));
    Ok(PipelineFingerprint {
        hex: hex(&hasher.finalize()),
        models,
    })
}

/// A digest of every file in a model folder (names and contents), in a stable order.
fn folder_digest(folder: &Path) -> std::io::Result<[u8; 32]> {
    let mut files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(folder)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(
            file.strip_prefix(folder)
                .unwrap_or(&file)
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(file_digest(&file)?);
    }
    Ok(hasher.finalize().into())
}

/// The fingerprint recorded for an item some of whose frames could not be decoded: its
/// output also depends on `input.on_decode_error` (frames left out or repeated), so a
/// changed policy redoes those items, and only those; clean files look the same under
/// every policy and stay finished.
pub fn damaged_fingerprint(fingerprint: &str, policy: DecodeErrorPolicy) -> String {
    hex(&Sha256::digest(format!(
        "{fingerprint}\0on_decode_error\0{policy:?}"
    )))
}

fn file_digest(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
