//! Which entries a report lists, and in what order, so that it describes the output
//! directory and not only the last run: a rerun with nothing to do still lists every
//! item with its earlier result.
//!
//! - This run's finished, failed and interrupted items come first, in the order they
//!   were found: they are what is new.
//! - Then the earlier results of items this run skipped or never reached, newest
//!   first. A skipped item shows its earlier result only when that result is "done";
//!   an earlier failure is not what the output directory holds, so the item shows this
//!   run's skip with its reason (as does an item an earlier run never recorded).
//! - Then this run's other skips, in the order they were found.
//! - Last, items whose input is gone (deleted, moved or excluded since), marked so;
//!   the caller drops those of which nothing is left in the output directory.

use std::collections::{HashMap, HashSet};

use super::{ItemReport, ItemStatus};

/// This run's entries (`this_run`) merged with the latest entry of every item that an
/// earlier run recorded (`earlier`, one per key); `found` holds the keys of every input
/// this run found, processed or not.
#[must_use]
pub fn merge(
    this_run: Vec<ItemReport>,
    earlier: Vec<ItemReport>,
    found: &HashSet<String>,
) -> Vec<ItemReport> {
    let mut earlier: HashMap<String, ItemReport> =
        earlier.into_iter().map(|i| (i.key.clone(), i)).collect();
    let mut new_work = Vec::new();
    let mut standing = Vec::new();
    let mut skips = Vec::new();
    for item in this_run {
        let before = earlier.remove(&item.key);
        match (item.status, before) {
            (ItemStatus::Skipped, Some(result)) if result.status == ItemStatus::Done => {
                standing.push(ItemReport {
                    input: item.input,
                    ..result
                });
            }
            (ItemStatus::Skipped, _) => skips.push(item),
            _ => new_work.push(item),
        }
    }
    let mut gone = Vec::new();
    for (key, item) in earlier {
        if found.contains(&key) {
            // Found but not reached (the run was interrupted): the result stands.
            standing.push(item);
        } else {
            gone.push(ItemReport {
                input_gone: true,
                ..item
            });
        }
    }
    newest_first(&mut standing);
    newest_first(&mut gone);
    new_work.extend(standing);
    new_work.extend(skips);
    new_work.extend(gone);
    new_work
}

/// Sorts by when each entry was made, newest first (the times are ISO 8601 in UTC, so
/// they sort as text), then by input.
fn newest_first(items: &mut [ItemReport]) {
    items.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.input.cmp(&b.input)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn entry(key: &str, status: ItemStatus, run: &str, at: &str) -> ItemReport {
        ItemReport {
            key: key.into(),
            status,
            run: run.into(),
            at: at.into(),
            ..ItemReport::failed(&Path::new("in").join(key))
        }
    }

    fn listed(items: &[ItemReport]) -> Vec<(&str, ItemStatus, &str, bool)> {
        items
            .iter()
            .map(|i| (i.key.as_str(), i.status, i.run.as_str(), i.input_gone))
            .collect()
    }

    #[test]
    fn new_work_first_then_standing_results_then_skips_then_gone_inputs() {
        use ItemStatus::{Done, Failed, Skipped};
        let this_run = vec![
            entry("a.png", Skipped, "r3", "3"),
            entry("b.png", Done, "r3", "3"),
            entry("c.png", Failed, "r3", "3"),
            entry("d.png", Skipped, "r3", "3"),
            entry("e.png", Skipped, "r3", "3"),
        ];
        let earlier = vec![
            entry("a.png", Done, "r1", "1"),
            entry("b.png", Failed, "r2", "2"),
            entry("d.png", Failed, "r1", "1"),
            entry("f.png", Done, "r2", "2"),
            entry("g.png", Done, "r1", "1"),
            entry("h.png", Done, "r1", "1"),
        ];
        let found: HashSet<String> = ["a.png", "b.png", "c.png", "d.png", "e.png", "h.png"]
            .map(String::from)
            .into();
        let merged = merge(this_run, earlier, &found);
        assert_eq!(
            listed(&merged),
            [
                ("b.png", Done, "r3", false),
                ("c.png", Failed, "r3", false),
                ("a.png", Done, "r1", false),
                ("h.png", Done, "r1", false),
                // An earlier failure does not stand for a skipped item.
                ("d.png", Skipped, "r3", false),
                ("e.png", Skipped, "r3", false),
                ("f.png", Done, "r2", true),
                ("g.png", Done, "r1", true),
            ]
        );
    }
}
