//! The report's items across runs: this run's entries merged with the last result of
//! every other item of this run's share that the journals keep (`report::history` says
//! in what order), the crops of the first items shown read back from the journal, and
//! the journal's older crops dropped.
//!
//! An item whose input is gone stays listed while any of its outputs is still in the
//! output directory (the report describes that directory); once none is, it is left
//! out. Its journal records stay, as they always have.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::batch::journal::{Journal, StoredResult};
use crate::batch::shard::Shard;
use crate::report::history::merge;
use crate::report::stored::{from_stored, preview_from_parts};
use crate::report::thumbnail::REPORT_THUMBNAILS;
use crate::report::ItemReport;

/// Where this run's items live and which of them are its own.
pub(super) struct Share<'a> {
    pub input_root: &'a Path,
    pub output_root: &'a Path,
    pub shard: Option<Shard>,
    /// The keys of every input this run found, processed or not.
    pub found: HashSet<String>,
}

/// Every item of the share with its last result, this run's first.
pub(super) fn report_items(
    journal: &Mutex<Journal>,
    this_run: Vec<ItemReport>,
    share: &Share<'_>,
) -> Vec<ItemReport> {
    let journal = journal.lock().unwrap_or_else(PoisonError::into_inner);
    let results = match journal.results() {
        Ok(results) => results,
        Err(error) => {
            tracing::warn!("the report lists this run's items only: {error}");
            return this_run;
        }
    };
    let results: HashMap<String, StoredResult> = results
        .into_iter()
        .filter(|r| share.shard.is_none_or(|s| s.owns(Path::new(&r.key))))
        .map(|r| (r.key.clone(), r))
        .collect();
    let earlier = results
        .values()
        .filter_map(|r| earlier_entry(r, share))
        .collect();
    let mut items = merge(this_run, earlier, &share.found);
    items.retain(|i| !i.input_gone || i.outputs.iter().any(|o| o.exists()));
    load_previews(&journal, &mut items, &results);
    if let Err(error) = journal.keep_previews(REPORT_THUMBNAILS) {
        tracing::warn!("{error}");
    }
    items
}

/// An earlier run's entry as this run sees it; `None` (with a warning) when it does not
/// read.
fn earlier_entry(result: &StoredResult, share: &Share<'_>) -> Option<ItemReport> {
    let input = share.input_root.join(&result.key);
    from_stored(&result.entry, &result.key, input, share.output_root)
        .map_err(|error| {
            tracing::warn!(
                "{}: the journal's entry of {} does not read ({error}); it is left out of the report",
                share.output_root.display(),
                result.key
            );
        })
        .ok()
}

/// Reads back the crops of earlier entries, in the order listed, while the page has
/// places for them.
fn load_previews(
    journal: &Journal,
    items: &mut [ItemReport],
    results: &HashMap<String, StoredResult>,
) {
    let shown = items.iter().filter(|i| i.preview.is_some()).count();
    let wanted: Vec<&StoredResult> = items
        .iter()
        .filter(|i| i.preview.is_none())
        .filter_map(|i| {
            results
                .get(&i.key)
                .filter(|r| r.has_preview && r.run == i.run)
        })
        .take(REPORT_THUMBNAILS.saturating_sub(shown))
        .collect();
    let mut previews = match journal.previews(&wanted) {
        Ok(previews) => previews,
        Err(error) => {
            tracing::warn!("the report shows no earlier crops: {error}");
            return;
        }
    };
    for item in items.iter_mut().filter(|i| i.preview.is_none()) {
        if let Some(blobs) = previews.remove(&item.key) {
            item.preview = preview_from_parts(blobs.before, blobs.after, &blobs.crop);
        }
    }
}

/// The directory that journal keys are relative to: the input directory, or the
/// directory of a single input file.
pub(super) fn input_root(input: &Path) -> PathBuf {
    if input.is_dir() {
        input.to_path_buf()
    } else {
        input.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}
