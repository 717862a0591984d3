//! Writing an output under a temporary name in its final directory and renaming it only
//! when complete, so no half-written file ever carries a final name: media outputs,
//! caption files, reports and the caption index all go through here. Each temporary is
//! registered in [`crate::temporaries`] while it may exist, so an abort removes it. A
//! leaf module: it depends on nothing but that other leaf.

use std::path::{Path, PathBuf};

use crate::temporaries::LiveTemporary;

/// A file operation on an output that failed, and what it was doing.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct OutputFileError {
    pub context: String,
    #[source]
    pub source: std::io::Error,
}

/// A temporary output that is removed unless committed.
pub struct PendingOutput {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
    /// Dropped after the temporary is removed (fields drop after `drop` runs).
    _live: LiveTemporary,
}

impl PendingOutput {
    /// Prepares `target`'s directory and a temporary sibling with the same extension
    /// (so format guessing still works): `dir/.name.ext.frameforge-tmp.ext`.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn new(target: &Path) -> Result<Self, OutputFileError> {
        let dir = target.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| OutputFileError {
            context: format!("cannot create output directory {}", dir.display()),
            source,
        })?;
        let temp = temp_path_for(target);
        Ok(Self {
            _live: LiveTemporary::register(&temp),
            temp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Rewrites the temporary file through `rewrite(from, to)` into a second temporary,
    /// which then takes its place; the second one is removed if the rewrite fails.
    ///
    /// # Errors
    /// The rewrite fails, or the rename does.
    pub fn rewrite<E: From<OutputFileError>>(
        &self,
        rewrite: impl FnOnce(&Path, &Path) -> Result<(), E>,
    ) -> Result<(), E> {
        let second = self.temp.with_file_name(format!(
            "{}.2.{}",
            self.temp
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            self.temp
                .extension()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let _live = LiveTemporary::register(&second);
        let result = rewrite(&self.temp, &second).and_then(|()| {
            std::fs::rename(&second, &self.temp).map_err(|source| {
                E::from(OutputFileError {
                    context: format!("cannot replace {}", self.temp.display()),
                    source,
                })
            })
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&second);
        }
        result
    }

    /// Gives the finished file its final name.
    ///
    /// # Errors
    /// The rename fails.
    pub fn commit(mut self) -> Result<(), OutputFileError> {
        std::fs::rename(&self.temp, &self.target).map_err(|source| OutputFileError {
            context: format!(
                "cannot move the finished output to {}",
                self.target.display()
            ),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingOutput {
    fn drop(&mut self) {
        if !self.committed {
            // The file may not exist yet; nothing else to do about a failed removal.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Marker in temporary file names, so leftovers of a killed run can be recognised.
pub const TEMP_MARKER: &str = ".frameforge-tmp";

/// The temporary name used while `target` is written.
pub fn temp_path_for(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{TEMP_MARKER}{ext}"))
}

/// Writes `bytes` to `path` under its temporary name and renames it into place; a write
/// cut short (disk full, file-size limit) leaves neither the temporary nor a partial
/// file behind. Creates the directory if needed.
///
/// # Errors
/// The directory, the write or the rename fails.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), OutputFileError> {
    let pending = PendingOutput::new(path)?;
    std::fs::write(pending.temp_path(), bytes).map_err(|source| OutputFileError {
        context: format!("cannot write {}", path.display()),
        source,
    })?;
    pending.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_name_is_hidden_and_keeps_the_extension() {
        assert_eq!(
            temp_path_for(Path::new("out/a/reel.mkv")),
            PathBuf::from("out/a/.reel.mkv.frameforge-tmp.mkv")
        );
    }

    #[test]
    fn uncommitted_output_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/x.png");
        let pending = PendingOutput::new(&target).unwrap();
        std::fs::write(pending.temp_path(), b"partial").unwrap();
        let temp = pending.temp_path().to_path_buf();
        drop(pending);
        assert!(!temp.exists());
        assert!(!target.exists());
    }

    #[test]
    fn an_atomic_write_that_fails_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.json");
        // A directory where the temporary file would go makes the write fail.
        std::fs::create_dir(temp_path_for(&target)).unwrap();
        assert!(write_atomically(&target, b"{}").is_err());
        assert!(!target.exists());
        std::fs::remove_dir(temp_path_for(&target)).unwrap();
        write_atomically(&target, b"{}").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
        assert!(!temp_path_for(&target).exists());
    }

    #[test]
    fn committed_output_has_its_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.png");
        let pending = PendingOutput::new(&target).unwrap();
        std::fs::write(pending.temp_path(), b"done").unwrap();
        pending.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"done");
    }
}
