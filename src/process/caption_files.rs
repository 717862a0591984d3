//! Writing an input's caption files beside its outputs: `NAME.captions.json`,
//! `NAME.vtt` and `NAME.srt` for a video, `NAME.txt` and `NAME.captions.json` for an
//! image, each under a temporary name first.

use std::path::{Path, PathBuf};

use crate::caption::cues::Cue;
use crate::caption::writers::{json_document, subrip, webvtt, CaptionDocument};

use super::ProcessError;
use crate::output_file::write_atomically;

/// Suffix of the JSON caption document.
pub const JSON_SUFFIX: &str = ".captions.json";

/// The path of an output without its extension (`out/reel1.mkv` → `out/reel1`), or
/// without `.captions.json` when the captions are the only output.
pub fn caption_base(output: &Path) -> PathBuf {
    let text = output.to_string_lossy();
    match text.strip_suffix(JSON_SUFFIX) {
        Some(base) => PathBuf::from(base),
        None => output.with_extension(""),
    }
}

/// The `NAME.captions.json` document that goes with an output.
pub fn caption_json_path(output: &Path) -> PathBuf {
    with_suffix(&caption_base(output), JSON_SUFFIX)
}

fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", base.display()))
}

fn write(path: &Path, text: &str) -> Result<(), ProcessError> {
    Ok(write_atomically(path, text.as_bytes())?)
}

/// Writes `NAME.captions.json`; returns its path.
fn write_document(
    base: &Path,
    source: &Path,
    model: &Path,
    cues: &[Cue],
) -> Result<PathBuf, ProcessError> {
    let json = with_suffix(base, JSON_SUFFIX);
    write(
        &json,
        &json_document(&CaptionDocument {
            source,
            model,
            cues,
        }),
    )?;
    Ok(json)
}

/// Writes a video's caption files; returns their paths.
///
/// # Errors
/// A file cannot be written.
pub fn write_video_captions(
    base: &Path,
    source: &Path,
    model: &Path,
    cues: &[Cue],
) -> Result<Vec<PathBuf>, ProcessError> {
    let json = write_document(base, source, model, cues)?;
    let vtt = with_suffix(base, ".vtt");
    let srt = with_suffix(base, ".srt");
    write(&vtt, &webvtt(cues))?;
    write(&srt, &subrip(cues))?;
    Ok(vec![json, vtt, srt])
}

/// Writes an image's caption files; returns their paths.
///
/// # Errors
/// A file cannot be written.
pub fn write_image_captions(
    base: &Path,
    source: &Path,
    model: &Path,
    cue: &Cue,
) -> Result<Vec<PathBuf>, ProcessError> {
    let json = write_document(base, source, model, std::slice::from_ref(cue))?;
    let txt = with_suffix(base, ".txt");
    write(&txt, &format!("{}\n", cue.text))?;
    Ok(vec![json, txt])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        assert_eq!(
            caption_base(Path::new("out/a/reel1.mkv")),
            PathBuf::from("out/a/reel1")
        );
        assert_eq!(
            caption_base(Path::new("out/a/reel1.captions.json")),
            PathBuf::from("out/a/reel1")
        );
    }
}
