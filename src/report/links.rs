//! Links from the report page to the files it names, relative to the page, so they keep
//! working when the output tree (with the input beside it) is moved or served as it is.

use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

/// The `href` that leads from a page in `page_dir` to `target`, percent-encoded; `None`
/// when no relative path leads there (another drive) or a path cannot be made absolute.
#[must_use]
pub fn relative_href(page_dir: &Path, target: &Path) -> Option<String> {
    let from = normalised(&std::path::absolute(page_dir).ok()?);
    let to = normalised(&std::path::absolute(target).ok()?);
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return None;
    }
    let ups = from.components().count() - common;
    let mut segments: Vec<String> = vec!["..".to_string(); ups];
    segments.extend(
        to.components()
            .skip(common)
            .map(|c| percent_encode(c.as_os_str().as_encoded_bytes())),
    );
    Some(segments.join("/"))
}

/// `path` with `.` dropped and `..` taken back lexically (the report names paths as the
/// run saw them, which need not exist any more).
fn normalised(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Percent-encodes every byte of a path segment but the unreserved ones (RFC 3986), so
/// spaces, `#`, `?`, `%` and non-ASCII names survive in an `href`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_climb_out_of_the_page_directory_and_encode_names() {
        let href = |from: &str, to: &str| relative_href(Path::new(from), Path::new(to));
        assert_eq!(
            href("/a/out", "/a/in/x y#1.png").as_deref(),
            Some("../in/x%20y%231.png")
        );
        assert_eq!(
            href("/a/out", "/a/out/sub/café.mkv").as_deref(),
            Some("sub/caf%C3%A9.mkv")
        );
        assert_eq!(
            href("/a/./out/", "/a/b/../in/c.png").as_deref(),
            Some("../in/c.png")
        );
    }

    #[test]
    fn relative_paths_are_taken_from_the_working_directory() {
        assert_eq!(
            relative_href(Path::new("out"), Path::new("in/a.jpg")).as_deref(),
            Some("../in/a.jpg")
        );
    }
}
