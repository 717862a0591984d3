//! Caption files: WebVTT and SubRip tracks and a JSON document for each video, plain text
//! and JSON for each image, and one JSON line per caption for the run's index.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use super::cues::Cue;

/// `HH:MM:SS.mmm` (WebVTT) or `HH:MM:SS,mmm` (SubRip).
fn timestamp(seconds: f64, separator: char) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{h:02}:{m:02}:{s:02}{separator}{ms:03}")
}

/// The header of every WebVTT document written: the `Kind` and `Language` lines are
/// the header metadata players and YouTube's files use.
pub const WEBVTT_HEADER: &str = "WEBVTT\nKind: descriptions\nLanguage: en\n";

/// A WebVTT document, its header saying the cues are text descriptions of the video
/// (WCAG's technique for them; a player's `<track kind="descriptions">`), in English as
/// the captioner writes.
pub fn webvtt(cues: &[Cue]) -> String {
    let mut out = String::from(WEBVTT_HEADER);
    for (i, cue) in cues.iter().enumerate() {
        let _ = write!(
            out,
            "\n{}\n{} --> {}\n{}\n",
            i + 1,
            timestamp(cue.start, '.'),
            timestamp(cue.end, '.'),
            escape_vtt(&cue.text)
        );
    }
    out
}

/// A SubRip document.
pub fn subrip(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(
            out,
            "{}\n{} --> {}\n{}\n",
            i + 1,
            timestamp(cue.start, ','),
            timestamp(cue.end, ','),
            one_line(&cue.text)
        );
    }
    out
}

/// Cue text cannot hold a blank line (it would end the cue) or, in WebVTT, raw `<`/`&`.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn escape_vtt(text: &str) -> String {
    one_line(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `NAME.captions.json` document of one input.
#[derive(Debug, Serialize)]
pub struct CaptionDocument<'a> {
    pub source: &'a Path,
    pub model: &'a Path,
    pub cues: &'a [Cue],
}

/// Pretty JSON for a caption document.
pub fn json_document(document: &CaptionDocument<'_>) -> String {
    serde_json::to_string_pretty(document).unwrap_or_default() + "\n"
}

/// One line of the run's `captions.jsonl` per cue.
pub fn jsonl_lines(source: &Path, cues: &[Cue]) -> String {
    let mut out = String::new();
    for cue in cues {
        let line = serde_json::json!({
            "source": source,
            "start": cue.start,
            "end": cue.end,
            "text": cue.text,
            "mean_log_prob": cue.mean_log_prob,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cues() -> Vec<Cue> {
        vec![
            Cue {
                start: 0.0,
                end: 2.5,
                text: "a red circle".into(),
                mean_log_prob: -0.1,
            },
            Cue {
                start: 2.5,
                end: 3661.0042,
                text: "a <b> & c".into(),
                mean_log_prob: -0.2,
            },
        ]
    }

    #[test]
    fn webvtt_has_header_numbered_cues_and_escaped_text() {
        assert_eq!(
            webvtt(&cues()),
            "WEBVTT\nKind: descriptions\nLanguage: en\n\n1\n00:00:00.000 --> 00:00:02.500\na red circle\n\n2\n00:00:02.500 --> 01:01:01.004\na &lt;b&gt; &amp; c\n"
        );
    }

    #[test]
    fn subrip_uses_commas_and_blank_line_separators() {
        assert_eq!(
            subrip(&cues()),
            "1\n00:00:00,000 --> 00:00:02,500\na red circle\n\n2\n00:00:02,500 --> 01:01:01,004\na <b> & c\n"
        );
    }

    #[test]
    fn jsonl_has_one_line_per_cue() {
        let text = jsonl_lines(Path::new("in/x.mkv"), &cues());
        assert_eq!(text.lines().count(), 2);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["source"], "in/x.mkv");
        assert_eq!(first["text"], "a red circle");
    }
}
