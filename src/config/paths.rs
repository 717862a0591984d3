//! Paths in a pipeline file: resolving them and comparing them.
//!
//! Relative paths are taken relative to the pipeline file's directory, not
//! the working directory, so a pipeline means the same thing wherever it is
//! run from. Paths are joined, not canonicalized: messages and reports then
//! show paths the user recognises, and outputs that do not exist yet resolve
//! the same way as inputs that do.

use std::path::{Component, Path, PathBuf};

/// The directory relative paths in `file` are resolved against; empty (the
/// working directory) for a bare file name.
#[must_use]
pub(crate) fn base_dir(file: &Path) -> &Path {
    file.parent().unwrap_or_else(|| Path::new(""))
}

/// `path` as seen from `base`: absolute paths are kept, relative ones joined.
#[must_use]
pub(crate) fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Whether two resolved paths name the same place.
///
/// Paths that both exist are compared after canonicalizing, which sees
/// through symlinks; otherwise they are compared after making them absolute
/// and folding `.` and `..` lexically, the best that can be done for a path
/// that is not there yet.
#[must_use]
pub(crate) fn same_place(a: &Path, b: &Path) -> bool {
    if let (Ok(a), Ok(b)) = (a.canonicalize(), b.canonicalize()) {
        return a == b;
    }
    match (lexical_absolute(a), lexical_absolute(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

fn lexical_absolute(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let mut folded = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                folded.pop();
            }
            other => folded.push(other),
        }
    }
    Some(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_dir_of_a_bare_name_is_the_working_directory() {
        assert_eq!(base_dir(Path::new("p.yaml")), Path::new(""));
        assert_eq!(base_dir(Path::new("a/b/p.yaml")), Path::new("a/b"));
    }

    #[test]
    fn relative_paths_join_the_base_and_absolute_ones_stay() {
        assert_eq!(
            resolve(Path::new("a/b"), Path::new("../film")),
            PathBuf::from("a/b/../film")
        );
        assert_eq!(
            resolve(Path::new("a/b"), Path::new("/data/film")),
            PathBuf::from("/data/film")
        );
        assert_eq!(
            resolve(Path::new(""), Path::new("film")),
            PathBuf::from("film")
        );
    }

    #[test]
    fn same_place_folds_dot_dot_for_missing_paths() {
        assert!(same_place(
            Path::new("no/such/x/../out"),
            Path::new("no/such/./out")
        ));
        assert!(!same_place(Path::new("no/such/a"), Path::new("no/such/b")));
    }

    #[test]
    fn same_place_sees_through_symlinks_for_existing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&real, &link).unwrap();
            assert!(same_place(&real, &link));
        }
        assert!(same_place(&real, &dir.path().join("real/../real")));
    }
}
