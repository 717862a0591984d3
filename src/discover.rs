//! Finding the work: walking `input.path` in a stable order, applying the include and
//! exclude globs, and mapping each file to its output path in the mirrored tree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::config::{media_kind, Container, InputFilter, MediaKind, Naming, Pipeline};
use crate::job::Job;
use crate::output_file::TEMP_MARKER;

/// The discovered jobs and the files that could not even be looked at.
#[derive(Debug, Default)]
pub struct Discovery {
    pub jobs: Vec<Job>,
    /// `(path, reason)` for unreadable entries and output collisions.
    pub rejected: Vec<(PathBuf, String)>,
}

/// Walks the input of `pipeline`.
///
/// # Errors
/// The input path itself cannot be read (a missing file or directory is caught when the
/// pipeline is loaded, but it may vanish in between).
pub fn discover(pipeline: &Pipeline) -> Result<Discovery, std::io::Error> {
    let filter = InputFilter::new(&pipeline.input)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let root = &pipeline.input.path;
    let metadata = std::fs::metadata(root)?;
    let output_root = absolute(&pipeline.output.path);
    let mut discovery = Discovery::default();
    let mut claimed: HashMap<PathBuf, (PathBuf, MediaKind)> = HashMap::new();
    let mut consider = |path: PathBuf, relative: PathBuf, discovery: &mut Discovery| {
        if !filter.matches(&relative) || is_temporary(&relative) {
            return;
        }
        let kind = media_kind(&relative).unwrap_or(MediaKind::Video);
        let output = output_path(
            &pipeline.output.path,
            &relative,
            kind,
            (pipeline.encode.container, pipeline.output.naming),
        );
        if let Some((first, first_kind)) = claimed.get(&output) {
            let reason = collision(&output, first, *first_kind, (&path, kind), pipeline);
            discovery.rejected.push((path, reason));
            return;
        }
        claimed.insert(output.clone(), (path.clone(), kind));
        discovery.jobs.push(Job {
            input: path,
            relative,
            output,
            kind,
        });
    };
    if metadata.is_file() {
        let name = PathBuf::from(root.file_name().unwrap_or(root.as_os_str()));
        consider(root.clone(), name, &mut discovery);
        return Ok(discovery);
    }
    let walker = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        // Never read our own outputs when the output tree lies inside the input tree.
        .filter_entry(|entry| absolute(entry.path()) != output_root);
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() => {
                let relative = entry
                    .path()
                    .strip_prefix(root)
                    .unwrap_or(entry.path())
                    .to_path_buf();
                consider(entry.path().to_path_buf(), relative, &mut discovery);
            }
            Ok(_) => {}
            Err(error) => discovery.rejected.push(unreadable(&error, root)),
        }
    }
    Ok(discovery)
}

/// Why a second input whose output is already claimed is refused, naming the outputs
/// both would get under `output.naming: source_extension`.
fn collision(
    output: &Path,
    first: &Path,
    first_kind: MediaKind,
    (path, kind): (&Path, MediaKind),
    pipeline: &Pipeline,
) -> String {
    let kept = |input: &Path, kind| {
        let name = Path::new(input.file_name().unwrap_or_default());
        let naming = (pipeline.encode.container, Naming::SourceExtension);
        output_path(Path::new(""), name, kind, naming)
            .display()
            .to_string()
    };
    format!(
        "its output {} is already written from {}; set `output.naming: source_extension` \
         to keep both (as {} and {}), or rename one of them",
        output.display(),
        first.display(),
        kept(first, first_kind),
        kept(path, kind)
    )
}

/// An entry the walk could not read, and why in words a user can act on.
fn unreadable(error: &walkdir::Error, root: &Path) -> (PathBuf, String) {
    let path = error
        .path()
        .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
    let io_reason = || {
        error
            .io_error()
            .map_or_else(|| error.to_string(), std::string::ToString::to_string)
    };
    let reason = match (error.loop_ancestor(), std::fs::read_link(&path)) {
        (Some(ancestor), _) => format!("symlink loop back to {}", ancestor.display()),
        // A bare "No such file or directory" for a file that `ls` shows would puzzle: say
        // that it is a link and where it points.
        (None, Ok(target)) => format!("broken symlink to {}: {}", target.display(), io_reason()),
        (None, Err(_)) => io_reason(),
    };
    (path, reason)
}

/// Where the output of `relative` goes.
pub fn output_path(
    output_root: &Path,
    relative: &Path,
    kind: MediaKind,
    (container, naming): (Container, Naming),
) -> PathBuf {
    let mirrored = output_root.join(relative);
    let extension = match kind {
        MediaKind::Image => "png",
        MediaKind::Video => match container {
            Container::Mkv => "mkv",
            Container::Mp4 => "mp4",
            Container::Same => return mirrored,
        },
    };
    let same = mirrored
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(extension));
    match naming {
        Naming::SourceExtension if !same => {
            let mut name = mirrored.file_name().unwrap_or_default().to_os_string();
            name.push(".");
            name.push(extension);
            mirrored.with_file_name(name)
        }
        _ => mirrored.with_extension(extension),
    }
}

fn is_temporary(relative: &Path) -> bool {
    relative
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains(TEMP_MARKER))
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_mirror_the_tree_with_the_container_extension() {
        let root = Path::new("/out");
        assert_eq!(
            output_path(
                root,
                Path::new("a/b.mp4"),
                MediaKind::Video,
                (Container::Mkv, STEM)
            ),
            PathBuf::from("/out/a/b.mkv")
        );
        assert_eq!(
            output_path(
                root,
                Path::new("a/b.mp4"),
                MediaKind::Video,
                (Container::Same, STEM)
            ),
            PathBuf::from("/out/a/b.mp4")
        );
        assert_eq!(
            output_path(
                root,
                Path::new("s/c.jpg"),
                MediaKind::Image,
                (Container::Mp4, STEM)
            ),
            PathBuf::from("/out/s/c.png")
        );
    }

    const STEM: Naming = Naming::Stem;

    #[test]
    fn source_extension_naming_keeps_inputs_apart() {
        let root = Path::new("/out");
        let keep = |relative: &str, kind, container| {
            output_path(
                root,
                Path::new(relative),
                kind,
                (container, Naming::SourceExtension),
            )
        };
        let video = MediaKind::Video;
        assert_eq!(
            keep("a/city.mpg", video, Container::Mkv),
            PathBuf::from("/out/a/city.mpg.mkv")
        );
        assert_eq!(
            keep("a/city.mp4", video, Container::Mkv),
            PathBuf::from("/out/a/city.mp4.mkv")
        );
        assert_eq!(
            keep("a/city.MKV", video, Container::Mkv),
            PathBuf::from("/out/a/city.mkv")
        );
        assert_eq!(
            keep("a/city.mpg", video, Container::Same),
            PathBuf::from("/out/a/city.mpg")
        );
        assert_eq!(
            keep("s/scan.jpg", MediaKind::Image, Container::Mkv),
            PathBuf::from("/out/s/scan.jpg.png")
        );
        assert_eq!(
            keep("s/scan.png", MediaKind::Image, Container::Mkv),
            PathBuf::from("/out/s/scan.png")
        );
    }

    #[test]
    fn temporary_files_are_not_inputs() {
        assert!(is_temporary(Path::new("x/.a.mkv.frameforge-tmp.mkv")));
        assert!(!is_temporary(Path::new("x/a.mkv")));
    }
}
