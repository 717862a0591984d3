//! The pipeline fingerprint recorded with each finished item: a hash of everything that
//! changes what an output looks like (stages, model file contents, encode settings), and
//! of nothing that does not (paths, `existing`, thread counts).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::config::{Pipeline, StageSpec};

/// The fingerprint of `pipeline`, as lowercase hex.
///
/// # Errors
/// A model file cannot be read.
pub fn pipeline_fingerprint(pipeline: &Pipeline) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    for stage in &pipeline.stages {
        match stage {
            StageSpec::Filter(graph) => hasher.update(format!("filter\0{graph}\0")),
            StageSpec::Restore(restore) => {
                hasher.update(format!(
                    "restore\0{:?}\0{}\0",
                    restore.tile, restore.tile_overlap
                ));
                hasher.update(file_digest(&restore.model)?);
                let sidecar = restore.model.with_extension("yaml");
                if sidecar.is_file() {
                    hasher.update(file_digest(&sidecar)?);
                }
            }
        }
    }
    hasher.update(format!("{:?}", pipeline.encode));
    Ok(hex(&hasher.finalize()))
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
