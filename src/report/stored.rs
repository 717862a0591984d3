//! An item's report entry as the journal keeps it between runs: the same JSON as in
//! `report.json`, but with the input as its path below the input root and the outputs
//! relative to the output root, so a later run started from another working directory
//! (cron) or over a moved output tree shows the right paths. The crops are kept beside
//! it as PNG bytes, with where they were cut.

use std::path::{Path, PathBuf};

use super::thumbnail::{Crop, Preview};
use super::ItemReport;

/// The journal's form of `item` (whose preview is kept apart: see [`preview_parts`]).
#[must_use]
pub fn to_stored(item: &ItemReport, output_root: &Path) -> String {
    let stored = ItemReport {
        input: PathBuf::from(&item.key),
        outputs: item
            .outputs
            .iter()
            .map(|o| o.strip_prefix(output_root).unwrap_or(o).to_path_buf())
            .collect(),
        preview: None,
        ..item.clone()
    };
    // Serialising plain data with string keys cannot fail.
    serde_json::to_string(&stored).unwrap_or_default()
}

/// An entry read back from the journal: the input is `input` (where the key is now),
/// outputs are under `output_root`.
///
/// # Errors
/// The text is not an entry (a journal written by another version, or damaged).
pub fn from_stored(
    entry: &str,
    key: &str,
    input: PathBuf,
    output_root: &Path,
) -> Result<ItemReport, serde_json::Error> {
    let mut item: ItemReport = serde_json::from_str(entry)?;
    item.key = key.to_string();
    item.input = input;
    // `join` keeps an absolute path (an output outside the root) as it is.
    item.outputs = item.outputs.iter().map(|o| output_root.join(o)).collect();
    Ok(item)
}

/// The crops' PNG bytes and where they were cut, as the journal stores them.
#[must_use]
pub fn preview_parts(preview: &Preview) -> (Vec<u8>, Vec<u8>, String) {
    (
        preview.before.clone(),
        preview.after.clone(),
        serde_json::to_string(&preview.crop).unwrap_or_default(),
    )
}

/// A preview from the journal's parts; `None` when the crop does not read.
#[must_use]
pub fn preview_from_parts(before: Vec<u8>, after: Vec<u8>, crop: &str) -> Option<Preview> {
    let crop: Crop = serde_json::from_str(crop).ok()?;
    Some(Preview {
        before,
        after,
        crop,
    })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on any unexpected error"
    )]

    use super::*;
    use crate::report::ItemStatus;

    #[test]
    fn an_entry_comes_back_under_the_roots_of_the_run_that_reads_it() {
        let item = ItemReport {
            key: "reels/a.mkv".into(),
            status: ItemStatus::Done,
            outputs: vec![PathBuf::from("/old/out/reels/a.mkv")],
            frames: 24,
            run: "2026-12-26T11:15:03Z-4711".into(),
            at: "2026-12-26T11:16:00Z".into(),
            ..ItemReport::failed(Path::new("/old/in/reels/a.mkv"))
        };
        let entry = to_stored(&item, Path::new("/old/out"));
        assert!(!entry.contains("/old/"), "{entry}");
        let back = from_stored(
            &entry,
            "reels/a.mkv",
            PathBuf::from("in/reels/a.mkv"),
            Path::new("out"),
        )
        .unwrap();
        assert_eq!(back.input, Path::new("in/reels/a.mkv"));
        assert_eq!(back.outputs, [Path::new("out/reels/a.mkv")]);
        assert_eq!((back.status, back.frames), (ItemStatus::Done, 24));
        assert_eq!(back.run, item.run);
        assert_eq!(back.at, item.at);
        assert!(from_stored("{}", "k", PathBuf::new(), Path::new("out")).is_err());
    }
}
