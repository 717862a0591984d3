//! Each item's last result, kept so the report can describe the output directory and
//! not only the last run: the entry as the report shows it (JSON), the run that made
//! it, when, and the before/after crops (PNG) of the most recent items.
//!
//! A result is written when an item finishes (with its `finished` record, in one
//! transaction), fails or is interrupted; a skip leaves the last result as it is. The
//! crops follow in a write of their own: on a nearly full disk the finished record
//! matters, the pictures do not.
//! Journals from before this table existed gain it when opened and simply have no
//! results yet; other shards' files are read only if they have it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::{journal_files, Journal, JournalError};

/// The table, created by every run that opens its own journal.
pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS results (
    input TEXT PRIMARY KEY,
    run TEXT NOT NULL,
    recorded_ms INTEGER NOT NULL,
    entry TEXT NOT NULL,
    before_png BLOB,
    after_png BLOB,
    crop TEXT
);";

/// An item's result as a run records it.
#[derive(Debug, Clone)]
pub struct ResultRecord {
    pub run: String,
    /// When, in milliseconds since the Unix epoch: the newest result of a key wins
    /// across shards' journals.
    pub recorded_ms: i64,
    /// The report entry (JSON).
    pub entry: String,
    /// The item's captions, for the search index (written only with a finished record).
    pub captions: Vec<super::IndexedCaption>,
}

/// The before/after crops (PNG) and where they were cut (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewBlobs {
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    pub crop: String,
}

/// A result as read back, without its crops (see [`Journal::previews`]).
#[derive(Debug, Clone)]
pub struct StoredResult {
    pub key: String,
    pub run: String,
    pub recorded_ms: i64,
    pub entry: String,
    pub has_preview: bool,
    /// The journal file it came from.
    file: PathBuf,
}

/// Writes `result` as the last result of `key`; an earlier result's crops go with it.
pub(super) fn upsert(
    connection: &Connection,
    key: &str,
    result: &ResultRecord,
) -> rusqlite::Result<usize> {
    connection.execute(
        "INSERT INTO results (input, run, recorded_ms, entry) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(input) DO UPDATE SET run = ?2, recorded_ms = ?3, entry = ?4,
           before_png = NULL, after_png = NULL, crop = NULL",
        params![key, result.run, result.recorded_ms, result.entry],
    )
}

impl Journal {
    /// Records the last result of `key` without marking it finished (it failed or was
    /// interrupted).
    ///
    /// # Errors
    /// The database cannot be written (disk full, for example).
    pub fn record_result(&mut self, key: &str, result: &ResultRecord) -> Result<(), JournalError> {
        upsert(self.writer()?, key, result).map_err(|source| self.error(source))?;
        Ok(())
    }

    /// Keeps the crops of `key`'s result, recorded just before.
    ///
    /// # Errors
    /// The database cannot be written (disk full, for example).
    pub fn record_preview(
        &mut self,
        key: &str,
        preview: &PreviewBlobs,
    ) -> Result<(), JournalError> {
        self.writer()?
            .execute(
                "UPDATE results SET before_png = ?2, after_png = ?3, crop = ?4 WHERE input = ?1",
                params![key, preview.before, preview.after, preview.crop],
            )
            .map_err(|source| self.error(source))?;
        Ok(())
    }

    /// The last result of every item in every journal of the state directory (the
    /// newest when shards' journals both have one), in no particular order.
    ///
    /// # Errors
    /// A journal cannot be listed or read.
    pub fn results(&self) -> Result<Vec<StoredResult>, JournalError> {
        let mut latest: HashMap<String, StoredResult> = HashMap::new();
        for file in journal_files(self.state_dir(), &self.path)? {
            self.with_database(&file, |database| {
                for result in read_results(database, &file)? {
                    let newer = latest
                        .get(&result.key)
                        .is_none_or(|known| result.recorded_ms >= known.recorded_ms);
                    if newer {
                        latest.insert(result.key.clone(), result);
                    }
                }
                Ok(())
            })
            .map_err(|source| sqlite_error(&file, source))?;
        }
        Ok(latest.into_values().collect())
    }

    /// The crops of `wanted`, by key; a result whose crops are gone is left out.
    ///
    /// # Errors
    /// A journal cannot be read.
    pub fn previews(
        &self,
        wanted: &[&StoredResult],
    ) -> Result<HashMap<String, PreviewBlobs>, JournalError> {
        let mut by_file: HashMap<&Path, Vec<&str>> = HashMap::new();
        for result in wanted.iter().filter(|r| r.has_preview) {
            by_file.entry(&result.file).or_default().push(&result.key);
        }
        let mut previews = HashMap::new();
        for (file, keys) in by_file {
            self.with_database(file, |database| {
                for key in keys {
                    if let Some(preview) = read_preview(database, key)? {
                        previews.insert(key.to_string(), preview);
                    }
                }
                Ok(())
            })
            .map_err(|source| sqlite_error(file, source))?;
        }
        Ok(previews)
    }

    /// Drops the crops of all but the `newest` most recent results of this run's
    /// journal: the report shows no more, and a nightly run over a growing archive
    /// would otherwise grow the journal by a page of pictures every night.
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn keep_previews(&self, newest: usize) -> Result<(), JournalError> {
        self.writer()?
            .execute(
                "UPDATE results SET before_png = NULL, after_png = NULL, crop = NULL
                 WHERE before_png IS NOT NULL AND input NOT IN (
                   SELECT input FROM results WHERE before_png IS NOT NULL
                   ORDER BY recorded_ms DESC LIMIT ?1)",
                params![i64::try_from(newest).unwrap_or(i64::MAX)],
            )
            .map_err(|source| self.error(source))?;
        Ok(())
    }

    fn state_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Runs `read` on this run's connection for its own file, or on a connection of
    /// its own for another shard's file.
    fn with_database(
        &self,
        file: &Path,
        read: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        if let (true, Some(connection)) = (file == self.path, &self.connection) {
            read(connection)
        } else {
            read(&Connection::open(file)?)
        }
    }
}

fn sqlite_error(file: &Path, source: rusqlite::Error) -> JournalError {
    JournalError::Sqlite {
        path: file.display().to_string(),
        source,
    }
}

/// Every result in one journal file; none when the file predates the table.
fn read_results(database: &Connection, file: &Path) -> rusqlite::Result<Vec<StoredResult>> {
    let has_table: bool = database.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'results')",
        [],
        |row| row.get(0),
    )?;
    if !has_table {
        return Ok(Vec::new());
    }
    let mut statement = database
        .prepare("SELECT input, run, recorded_ms, entry, before_png IS NOT NULL FROM results")?;
    let rows = statement.query_map([], |row| {
        Ok(StoredResult {
            key: row.get(0)?,
            run: row.get(1)?,
            recorded_ms: row.get(2)?,
            entry: row.get(3)?,
            has_preview: row.get(4)?,
            file: file.to_path_buf(),
        })
    })?;
    rows.collect()
}

fn read_preview(database: &Connection, key: &str) -> rusqlite::Result<Option<PreviewBlobs>> {
    database
        .query_row(
            "SELECT before_png, after_png, crop FROM results
             WHERE input = ?1 AND before_png IS NOT NULL AND after_png IS NOT NULL
               AND crop IS NOT NULL",
            params![key],
            |row| {
                Ok(PreviewBlobs {
                    before: row.get(0)?,
                    after: row.get(1)?,
                    crop: row.get(2)?,
                })
            },
        )
        .optional()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on any unexpected error"
    )]

    use super::super::{journal_name, Finished, InputStamp, STATE_DIR};
    use super::*;

    fn result(run: &str, ms: i64) -> ResultRecord {
        ResultRecord {
            run: run.into(),
            recorded_ms: ms,
            entry: format!("{{\"run\":\"{run}\"}}"),
            captions: Vec::new(),
        }
    }

    fn crops() -> PreviewBlobs {
        PreviewBlobs {
            before: vec![1, 2],
            after: vec![3, 4, 5],
            crop: "{}".into(),
        }
    }

    fn finished() -> Finished {
        Finished {
            stamp: InputStamp {
                size: 1,
                mtime_ns: 1,
            },
            pipeline_hash: "h".into(),
            outputs: Vec::new(),
        }
    }

    #[test]
    fn the_newest_result_of_each_item_wins_across_shards() {
        let dir = tempfile::tempdir().unwrap();
        let mut one = Journal::open(dir.path(), &journal_name(Some((1, 2)))).unwrap();
        one.record("a.png", finished(), &result("r1", 10)).unwrap();
        one.record_preview("a.png", &crops()).unwrap();
        one.record_result("b.png", &result("r1", 20)).unwrap();
        drop(one);
        let mut two = Journal::open(dir.path(), &journal_name(Some((2, 2)))).unwrap();
        two.record_result("a.png", &result("r2", 30)).unwrap();
        two.record_result("b.png", &result("r2", 5)).unwrap();
        let mut runs: Vec<(String, String)> = two
            .results()
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.run))
            .collect();
        runs.sort();
        assert_eq!(
            runs,
            [("a.png".into(), "r2".into()), ("b.png".into(), "r1".into())]
        );
    }

    #[test]
    fn crops_are_read_back_and_only_the_newest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), &journal_name(None)).unwrap();
        for (key, ms) in [
            ("old.png", 1),
            ("mid.png", 2),
            ("new.png", 3),
            ("redone.png", 4),
        ] {
            journal.record_result(key, &result("r", ms)).unwrap();
            journal.record_preview(key, &crops()).unwrap();
        }
        // A newer result without crops drops the older ones.
        journal
            .record_result("redone.png", &result("r2", 5))
            .unwrap();
        journal.keep_previews(2).unwrap();
        let results = journal.results().unwrap();
        let wanted: Vec<&StoredResult> = results.iter().collect();
        let previews = journal.previews(&wanted).unwrap();
        let mut kept: Vec<&str> = previews.keys().map(String::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["mid.png", "new.png"]);
        assert_eq!(previews["new.png"].after, [3, 4, 5]);
    }

    /// The tables of a journal written before results were kept, with one record.
    fn write_old_journal(path: &Path) {
        Connection::open(path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE finished (input TEXT PRIMARY KEY, size INTEGER NOT NULL,
                   mtime_ns INTEGER NOT NULL, pipeline TEXT NOT NULL, outputs TEXT NOT NULL,
                   finished_at INTEGER NOT NULL);
                 CREATE TABLE begun (input TEXT PRIMARY KEY, begun_at INTEGER NOT NULL);
                 INSERT INTO finished VALUES ('a.png', 1, 1, 'h', 'a.png', 0);",
            )
            .unwrap();
    }

    #[test]
    fn a_journal_from_before_results_opens_and_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(STATE_DIR);
        std::fs::create_dir_all(&state).unwrap();
        write_old_journal(&state.join(journal_name(None)));
        let mut journal = Journal::open(dir.path(), &journal_name(None)).unwrap();
        assert!(journal.finished("a.png").is_some());
        assert!(journal.results().unwrap().is_empty());
        // Another shard's old journal, appearing while this run goes on, is read
        // without the table.
        write_old_journal(&state.join(journal_name(Some((1, 2)))));
        journal.record_result("b.png", &result("r", 1)).unwrap();
        let keys: Vec<String> = journal
            .results()
            .unwrap()
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(keys, ["b.png"]);
    }
}
