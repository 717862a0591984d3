//! A captioner's card: `captioner.yaml` in its folder, where a model made for a narrow
//! purpose says what it describes and what it cannot. Only what a run acts on is read:
//! whether it can describe real photographs, so that a run with a demonstration model
//! says once where real captions come from.

use std::path::Path;

use serde::Deserialize;

use super::CaptionModelError;

/// The card's file name in a model folder.
pub const CARD: &str = "captioner.yaml";

/// Where the README tells how to bring a real captioner.
const REAL_CAPTIONER_HELP: &str = "README.md, \"Bringing a real captioner\"";

#[derive(Debug, Default, Deserialize)]
struct Card {
    /// `false` when the model cannot describe real photographs or film frames.
    real_photographs: Option<bool>,
}

/// The warning a run gives for the captioner in `folder`, if its card says it cannot
/// describe real photographs. A folder without a card gets none.
///
/// # Errors
/// The card exists but cannot be read or is not YAML.
pub fn card_warning(folder: &Path) -> Result<Option<String>, CaptionModelError> {
    let path = folder.join(CARD);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CaptionModelError::file(&path, format!("cannot read: {e}")))?;
    let card: Card = serde_yaml::from_str(&text)
        .map_err(|e| CaptionModelError::file(&path, format!("not a captioner card: {e}")))?;
    Ok((card.real_photographs == Some(false)).then(|| {
        format!(
            "{}: this captioner's card ({CARD}) says it cannot describe real photographs or \
             film frames; for real captions bring a real model such as \
             vit-gpt2-image-captioning exported with optimum-cli ({REAL_CAPTIONER_HELP})",
            folder.display()
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_card_that_rules_out_real_photographs_warns() {
        let dir = tempfile::tempdir().unwrap();
        assert!(card_warning(dir.path()).unwrap().is_none());
        std::fs::write(
            dir.path().join(CARD),
            "kind: caption\nreal_photographs: true\n",
        )
        .unwrap();
        assert!(card_warning(dir.path()).unwrap().is_none());
        std::fs::write(
            dir.path().join(CARD),
            "kind: caption\nreal_photographs: false\n",
        )
        .unwrap();
        let warning = card_warning(dir.path()).unwrap().unwrap();
        assert!(warning.starts_with(&format!("{}: ", dir.path().display())));
        std::fs::write(dir.path().join(CARD), "real_photographs: [").unwrap();
        let error = card_warning(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("captioner.yaml: not a captioner card"),
            "{error}"
        );
    }
}
