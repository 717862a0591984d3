//! Which files under `input.path` a pipeline selects.
//!
//! Without `include` globs a file is selected by its extension, compared
//! case-insensitively against the built-in media lists, because cameras and
//! older tools write `.MP4` and `.JPG`. With `include` the user's globs
//! decide. `exclude` globs always win. Globs use `globset` syntax and are
//! matched against the path relative to `input.path`.

use std::fmt;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::schema::InputSpec;

/// Extensions read as video when `include` is not given.
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mkv", "mov", "avi", "mpg", "mpeg", "m2ts", "ts", "mts", "webm", "wmv", "flv",
    "dv", "vob", "ogv", "3gp", "mxf",
];

/// Extensions read as still images when `include` is not given.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp"];

/// Whether a file holds moving pictures or a still.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// A video, decoded frame by frame.
    Video,
    /// A single image.
    Image,
}

/// The kind of media a file name suggests, from its extension; `None` when
/// the extension is in neither built-in list.
#[must_use]
pub fn media_kind(path: &Path) -> Option<MediaKind> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    if VIDEO_EXTENSIONS.contains(&extension.as_str()) {
        Some(MediaKind::Video)
    } else if IMAGE_EXTENSIONS.contains(&extension.as_str()) {
        Some(MediaKind::Image)
    } else {
        None
    }
}

/// Which glob list a glob came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobList {
    /// `input.include`.
    Include,
    /// `input.exclude`.
    Exclude,
}

impl fmt::Display for GlobList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Include => "include",
            Self::Exclude => "exclude",
        })
    }
}

/// A glob that `globset` cannot compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {list} glob `{glob}`: {reason}")]
pub struct InvalidGlob {
    /// The list it came from.
    pub list: GlobList,
    /// Its index in that list.
    pub index: usize,
    /// The glob as written.
    pub glob: String,
    /// `globset`'s explanation.
    pub reason: String,
}

/// Compiles one glob; the error names the list and the index so it can be
/// placed in the file.
///
/// # Errors
///
/// Returns [`InvalidGlob`] with `globset`'s reason when `glob` is malformed.
pub fn compile_glob(list: GlobList, index: usize, glob: &str) -> Result<Glob, InvalidGlob> {
    Glob::new(glob).map_err(|error| InvalidGlob {
        list,
        index,
        glob: glob.to_owned(),
        // The kind alone: the full error repeats the glob, which the message
        // already shows.
        reason: error.kind().to_string(),
    })
}

/// The compiled `include` and `exclude` rules of an `input` section.
#[derive(Debug, Clone)]
pub struct InputFilter {
    /// `None` selects by the built-in media extensions.
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl InputFilter {
    /// Compiles the globs of `spec`.
    ///
    /// # Errors
    ///
    /// Returns the first [`InvalidGlob`]; loading a pipeline reports all of
    /// them, so after a successful load this does not fail.
    pub fn new(spec: &InputSpec) -> Result<Self, InvalidGlob> {
        let include = spec
            .include
            .as_deref()
            .map(|globs| build_set(GlobList::Include, globs))
            .transpose()?;
        let exclude = build_set(GlobList::Exclude, &spec.exclude)?;
        Ok(Self { include, exclude })
    }

    /// Whether the file at `relative` (relative to `input.path`) is selected.
    #[must_use]
    pub fn matches(&self, relative: &Path) -> bool {
        let included = match &self.include {
            Some(globs) => globs.is_match(relative),
            None => media_kind(relative).is_some(),
        };
        included && !self.exclude.is_match(relative)
    }
}

fn build_set(list: GlobList, globs: &[String]) -> Result<GlobSet, InvalidGlob> {
    let mut builder = GlobSetBuilder::new();
    for (index, glob) in globs.iter().enumerate() {
        builder.add(compile_glob(list, index, glob)?);
    }
    // Each glob compiled on its own, so building the set only fails on
    // limits of the regex engine; that is still a problem with these globs.
    builder.build().map_err(|error| InvalidGlob {
        list,
        index: 0,
        glob: globs.join(", "),
        reason: error.kind().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn spec(include: Option<&[&str]>, exclude: &[&str]) -> InputSpec {
        InputSpec {
            path: PathBuf::from("in"),
            include: include.map(|globs| globs.iter().map(|g| (*g).to_owned()).collect()),
            exclude: exclude.iter().map(|g| (*g).to_owned()).collect(),
            on_decode_error: crate::config::DecodeErrorPolicy::Fail,
            decoder: crate::config::VideoDecoder::Software,
        }
    }

    #[test]
    fn media_kind_ignores_extension_case() {
        assert_eq!(media_kind(Path::new("a/b.MP4")), Some(MediaKind::Video));
        assert_eq!(media_kind(Path::new("b.Jpeg")), Some(MediaKind::Image));
        assert_eq!(media_kind(Path::new("notes.txt")), None);
        assert_eq!(media_kind(Path::new("mp4")), None);
    }

    #[test]
    fn default_include_selects_media_only() {
        let filter = InputFilter::new(&spec(None, &[])).unwrap();
        assert!(filter.matches(Path::new("reel/a.mkv")));
        assert!(filter.matches(Path::new("SCAN.TIF")));
        assert!(!filter.matches(Path::new("reel/readme.md")));
    }

    #[test]
    fn user_include_replaces_the_default_and_exclude_wins() {
        let filter = InputFilter::new(&spec(Some(&["**/*.{mp4,mkv}"]), &["**/.*"])).unwrap();
        assert!(filter.matches(Path::new("a.mp4")));
        assert!(filter.matches(Path::new("x/y/a.mkv")));
        assert!(!filter.matches(Path::new("a.png")));
        assert!(!filter.matches(Path::new("x/.hidden.mp4")));
    }

    #[test]
    fn invalid_glob_reports_list_index_and_reason() {
        let error = InputFilter::new(&spec(None, &["ok", "[a"])).unwrap_err();
        assert_eq!(error.list, GlobList::Exclude);
        assert_eq!(error.index, 1);
        assert_eq!(
            error.to_string(),
            "invalid exclude glob `[a`: unclosed character class; missing ']'"
        );
    }
}
