//! What the known encoders accept for `crf` and `preset`.
//!
//! Only settings whose valid values are fixed by the encoder are checked
//! here, from the pipeline alone; whether the encoder and pixel format exist
//! in the linked ffmpeg is checked next, while the models are opened
//! (`media::encode::check_encoder`), still before any file.

/// Speed presets of x264 and x265, fastest first.
pub const X26X_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// The highest `crf` x264 and x265 accept (8-bit scale).
pub const X26X_MAX_CRF: u8 = 51;

/// A rule about `encode` that a pipeline breaks, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecFinding {
    /// `crf` or `preset`, under `encode`.
    pub(crate) field: &'static str,
    /// What is wrong and what was expected.
    pub(crate) message: String,
}

fn is_x26x(codec: &str) -> bool {
    matches!(codec, "libx264" | "libx265")
}

/// Checks `crf` against what `codec` accepts.
pub(crate) fn check_crf(codec: &str, crf: Option<u8>) -> Option<CodecFinding> {
    let crf = crf?;
    let message = if codec == "ffv1" {
        // FFV1 is lossless: a quality target would be silently ignored,
        // which hides a mistaken codec choice.
        "crf does not apply to ffv1 (lossless)".to_owned()
    } else if is_x26x(codec) && crf > X26X_MAX_CRF {
        format!("crf {crf} is out of range for {codec} (expected 0..={X26X_MAX_CRF})")
    } else {
        return None;
    };
    Some(CodecFinding {
        field: "crf",
        message,
    })
}

/// Checks `preset` against what `codec` accepts.
pub(crate) fn check_preset(codec: &str, preset: Option<&str>) -> Option<CodecFinding> {
    let preset = preset?;
    if !is_x26x(codec) || X26X_PRESETS.contains(&preset) {
        return None;
    }
    Some(CodecFinding {
        field: "preset",
        message: format!(
            "unknown preset `{preset}` for {codec} (expected one of {})",
            X26X_PRESETS.join(", ")
        ),
    })
}

/// Checks that a codec is named at all; whether ffmpeg has it is decided
/// when encoders are opened.
pub(crate) fn check_codec_named(codec: &str) -> Option<CodecFinding> {
    codec.trim().is_empty().then(|| CodecFinding {
        field: "codec",
        message: "codec is empty (expected an ffmpeg encoder name such as `libx264`)".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(finding: Option<CodecFinding>) -> Option<String> {
        finding.map(|finding| finding.message)
    }

    #[test]
    fn crf_within_the_x26x_range_passes() {
        assert_eq!(check_crf("libx264", Some(0)), None);
        assert_eq!(check_crf("libx265", Some(51)), None);
        assert_eq!(check_crf("libx264", None), None);
    }

    #[test]
    fn crf_above_the_x26x_range_says_the_range() {
        assert_eq!(
            message(check_crf("libx265", Some(52))),
            Some("crf 52 is out of range for libx265 (expected 0..=51)".to_owned())
        );
    }

    #[test]
    fn crf_with_ffv1_is_refused() {
        let finding = check_crf("ffv1", Some(0)).unwrap();
        assert_eq!(finding.field, "crf");
        assert_eq!(finding.message, "crf does not apply to ffv1 (lossless)");
    }

    #[test]
    fn crf_of_other_codecs_is_left_to_the_encoder() {
        assert_eq!(check_crf("libsvtav1", Some(63)), None);
    }

    #[test]
    fn presets_are_checked_for_x26x_only() {
        assert_eq!(check_preset("libx264", Some("slow")), None);
        assert_eq!(check_preset("libsvtav1", Some("8")), None);
        assert_eq!(
            message(check_preset("libx264", Some("fastest"))),
            Some(
                "unknown preset `fastest` for libx264 (expected one of ultrafast, superfast, \
                 veryfast, faster, fast, medium, slow, slower, veryslow, placebo)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn empty_codec_is_refused() {
        assert_eq!(check_codec_named("libx264"), None);
        assert_eq!(check_codec_named(" ").unwrap().field, "codec");
    }
}
