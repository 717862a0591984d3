//! The captions of finished items as a full-text index (SQLite FTS5) in the journal,
//! so that `frameforge search` finds shots across the whole output tree. Written in the
//! same transaction as the item's finished record, so the index and the journal agree
//! after a crash; a whole run drops the captions of inputs it no longer finds.

use std::path::Path;

use rusqlite::{params, Connection};

use super::{journal_files_in, open_database, open_for_reading, JournalError, STATE_DIR};

/// The index, created by every run that opens its own journal. Porter stemming lets
/// "boats" find "boat"; times are stored, not searched.
pub(super) const SCHEMA: &str = "CREATE VIRTUAL TABLE IF NOT EXISTS captions USING fts5(
    input UNINDEXED, start UNINDEXED, end UNINDEXED, text,
    tokenize = 'porter unicode61'
);";

/// One caption of an item: from `start` to `end` seconds (both 0 for a still).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedCaption {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// A caption found by a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The input's path below the input root (the journal's key).
    pub input: String,
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// SQLite's bm25 score: lower is a better match.
    pub rank: f64,
}

/// Replaces `key`'s captions with `captions`.
pub(super) fn replace(
    connection: &Connection,
    key: &str,
    captions: &[IndexedCaption],
) -> rusqlite::Result<()> {
    connection.execute("DELETE FROM captions WHERE input = ?1", params![key])?;
    let mut insert = connection
        .prepare_cached("INSERT INTO captions (input, start, end, text) VALUES (?1, ?2, ?3, ?4)")?;
    for caption in captions {
        insert.execute(params![key, caption.start, caption.end, caption.text])?;
    }
    Ok(())
}

/// Drops, from every journal under `output_root`, the captions of inputs not in
/// `found` (deleted or moved since they were captioned). Only a whole run may: a shard
/// sees only its share.
///
/// # Errors
/// A journal cannot be opened or written.
pub fn forget_captions_except(output_root: &Path, found: &[String]) -> Result<(), JournalError> {
    for file in journal_files_in(&output_root.join(STATE_DIR))? {
        let connection = open_database(&file)?;
        let error = |source| JournalError::Sqlite {
            path: file.display().to_string(),
            source,
        };
        let transaction = connection.unchecked_transaction().map_err(error)?;
        transaction
            .execute_batch("CREATE TEMP TABLE found (input TEXT PRIMARY KEY)")
            .map_err(error)?;
        {
            let mut insert = transaction
                .prepare("INSERT OR IGNORE INTO temp.found (input) VALUES (?1)")
                .map_err(error)?;
            for key in found {
                insert.execute(params![key]).map_err(error)?;
            }
        }
        transaction
            .execute(
                "DELETE FROM captions WHERE input NOT IN (SELECT input FROM temp.found)",
                [],
            )
            .map_err(error)?;
        transaction.commit().map_err(error)?;
    }
    Ok(())
}

/// The captions under `output_root` matching every word of `words`, best first, at most
/// `limit`. Words are matched as words (stemmed), not as FTS5 query syntax, so any text
/// a user types is a valid search.
///
/// # Errors
/// A journal cannot be read.
pub fn search_captions(
    output_root: &Path,
    words: &str,
    limit: usize,
) -> Result<Vec<Hit>, JournalError> {
    let query = words
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" ");
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let mut hits = Vec::new();
    for file in journal_files_in(&output_root.join(STATE_DIR))? {
        let connection = open_for_reading(&file)?;
        let error = |source| JournalError::Sqlite {
            path: file.display().to_string(),
            source,
        };
        if !has_index(&connection).map_err(error)? {
            continue;
        }
        let mut statement = connection
            .prepare(
                "SELECT input, start, end, text, bm25(captions) FROM captions
                 WHERE captions MATCH ?1 ORDER BY bm25(captions) LIMIT ?2",
            )
            .map_err(error)?;
        let rows = statement
            .query_map(
                params![query, i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| {
                    Ok(Hit {
                        input: row.get(0)?,
                        start: row.get(1)?,
                        end: row.get(2)?,
                        text: row.get(3)?,
                        rank: row.get(4)?,
                    })
                },
            )
            .map_err(error)?;
        for hit in rows {
            hits.push(hit.map_err(error)?);
        }
    }
    // Shards' journals each rank their own hits; bm25 scores of one index compare, and
    // across shards of one tree they are close enough to interleave.
    hits.sort_by(|a, b| {
        a.rank
            .total_cmp(&b.rank)
            .then_with(|| a.input.cmp(&b.input))
    });
    hits.truncate(limit);
    Ok(hits)
}

fn has_index(connection: &Connection) -> rusqlite::Result<bool> {
    connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'captions'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map(|n| n > 0)
}
