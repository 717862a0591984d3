//! A unit of work (one input file and where its output goes), and how a failed one is
//! told: one list of causes, which the terminal line and the report both print.

use std::path::PathBuf;

use crate::config::MediaKind;

/// One input file to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The file to read.
    pub input: PathBuf,
    /// Its path below `input.path` (the file name when the input is a single file).
    pub relative: PathBuf,
    /// The final output path.
    pub output: PathBuf,
    pub kind: MediaKind,
}

/// The error and each cause, outermost first, each with its own words only.
///
/// Our errors print as `context: cause`, so each level's text ends with the next one's;
/// that tail is cut, giving a list whose `: `-join is the printed line. A cause the outer
/// text repeats elsewhere than at its end is left out rather than said twice.
pub fn causes(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut list = Vec::new();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if let Some(own) = text
            .strip_suffix(cause_text.as_str())
            .and_then(|head| head.strip_suffix(": "))
        {
            list.push(own.to_string());
            text = cause_text;
        } else if !text.contains(&cause_text) {
            list.push(std::mem::replace(&mut text, cause_text));
        }
        source = cause.source();
    }
    list.push(text);
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{context}: {source}")]
    struct Context {
        context: String,
        #[source]
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Plain(#[source] Context);

    #[test]
    fn causes_are_split_into_their_own_words() {
        let inner = Context {
            context: "cannot open input".into(),
            source: std::io::Error::other("Invalid data"),
        };
        assert_eq!(causes(&inner), ["cannot open input", "Invalid data"]);
        assert_eq!(
            causes(&Plain(inner)),
            ["outer", "cannot open input", "Invalid data"]
        );
    }
}
