//! The journal of finished work: an SQLite database in the output directory that records
//! each finished item by input path, size, modification time and the hash of the pipeline
//! that made it, so a rerun skips what is done and redoes what changed.
//!
//! Outputs are recorded relative to the output root, so a rerun from another working
//! directory (cron) or of a moved output tree still finds them.
//!
//! Each shard writes its own file (`journal.sqlite`, `journal-2-of-4.sqlite`…) so copies
//! running over shared storage never write the same database; lookups read them all.
//!
//! Beside what decides reruns, the journal keeps each item's last result for the report
//! (`results.rs`).

mod captions;
mod results;

pub use captions::{forget_captions_except, search_captions, Hit, IndexedCaption};
pub use results::{PreviewBlobs, ResultRecord, StoredResult};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rusqlite::{params, Connection, OpenFlags};

/// Directory under the output root that holds the journal and the lock.
pub const STATE_DIR: &str = ".frameforge";

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("journal {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {path}: opened read-only (a dry run records nothing)")]
    ReadOnly { path: String },
}

/// What identifies an input's content cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputStamp {
    pub size: u64,
    pub mtime_ns: i64,
}

impl InputStamp {
    /// Reads the stamp of a file.
    ///
    /// # Errors
    /// The file cannot be examined.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        let mtime_ns = metadata
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Ok(Self {
            size: metadata.len(),
            mtime_ns,
        })
    }
}

/// A finished item as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub stamp: InputStamp,
    pub pipeline_hash: String,
    pub outputs: Vec<PathBuf>,
}

/// The journal of one run.
pub struct Journal {
    path: PathBuf,
    /// The output root that recorded outputs are relative to.
    output_root: PathBuf,
    /// Where records are written; `None` for a journal opened read-only.
    connection: Option<Connection>,
    /// Records of every journal file in the state directory, read at open.
    known: HashMap<String, Finished>,
    /// Items a run began and never recorded as finished (it was killed, or the item
    /// failed): their outputs, if any, are a run's own, not a user's.
    begun: HashSet<String>,
}

impl Journal {
    /// Opens (creating if needed) this run's journal file `name` under `output_root`, and
    /// reads the records of every journal there.
    ///
    /// # Errors
    /// The state directory or a database cannot be created or read.
    pub fn open(output_root: &Path, name: &str) -> Result<Self, JournalError> {
        let dir = output_root.join(STATE_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| JournalError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join(name);
        let connection = open_database(&path)?;
        let mut known = HashMap::new();
        let mut begun = HashSet::new();
        for file in journal_files(&dir, &path)? {
            let reader = if file == path {
                None
            } else {
                Some(open_database(&file)?)
            };
            let database = reader.as_ref().unwrap_or(&connection);
            read_all(database, &file, output_root, &mut known)?;
            read_begun(database, &file, &mut begun)?;
        }
        Ok(Self {
            path,
            output_root: output_root.to_path_buf(),
            connection: Some(connection),
            known,
            begun,
        })
    }

    /// Reads the records of every journal under `output_root` without writing, creating
    /// or locking anything there (a dry run's view): no state directory means nothing
    /// is recorded yet. [`Journal::begin`] and [`Journal::record`] then refuse.
    ///
    /// # Errors
    /// A journal file exists but cannot be read.
    pub fn open_read_only(output_root: &Path, name: &str) -> Result<Self, JournalError> {
        let dir = output_root.join(STATE_DIR);
        let mut known = HashMap::new();
        let mut begun = HashSet::new();
        let files = journal_files_in(&dir)?;
        for file in files {
            let database = open_for_reading(&file)?;
            read_all(&database, &file, output_root, &mut known)?;
            read_begun(&database, &file, &mut begun)?;
        }
        Ok(Self {
            path: dir.join(name),
            output_root: output_root.to_path_buf(),
            connection: None,
            known,
            begun,
        })
    }

    /// Whether a run began `key` and never recorded it finished: then an output already
    /// at its name was written by that run (renamed into place just before a kill -9,
    /// say), so it is redone whatever `output.existing` says.
    pub fn was_begun(&self, key: &str) -> bool {
        self.begun.contains(key)
    }

    /// Notes that processing of `key` begins.
    ///
    /// # Errors
    /// The database cannot be written (disk full, for example).
    pub fn begin(&mut self, key: &str) -> Result<(), JournalError> {
        self.writer()?
            .execute(
                "INSERT INTO begun (input, begun_at) VALUES (?1, strftime('%s','now'))
                 ON CONFLICT(input) DO UPDATE SET begun_at = strftime('%s','now')",
                params![key],
            )
            .map_err(|source| self.error(source))?;
        self.begun.insert(key.to_string());
        Ok(())
    }

    /// The record of `key` (an input path relative to the input root), if finished.
    pub fn finished(&self, key: &str) -> Option<&Finished> {
        self.known.get(key)
    }

    /// Records `key` as finished, with its report entry.
    ///
    /// # Errors
    /// The database cannot be written (disk full, for example).
    pub fn record(
        &mut self,
        key: &str,
        finished: Finished,
        result: &ResultRecord,
    ) -> Result<(), JournalError> {
        let outputs = finished
            .outputs
            .iter()
            // Relative to the output root: the paths a run works with are relative to the
            // working directory it was started in, which the next run need not share.
            .map(|p| {
                p.strip_prefix(&self.output_root)
                    .unwrap_or(p)
                    .display()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n");
        let transaction = self
            .writer()?
            .unchecked_transaction()
            .map_err(|source| self.error(source))?;
        transaction
            .execute("DELETE FROM begun WHERE input = ?1", params![key])
            .map_err(|source| self.error(source))?;
        transaction
            .execute(
                "INSERT INTO finished (input, size, mtime_ns, pipeline, outputs, finished_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, strftime('%s','now'))
                 ON CONFLICT(input) DO UPDATE SET size = ?2, mtime_ns = ?3, pipeline = ?4,
                   outputs = ?5, finished_at = strftime('%s','now')",
                params![
                    key,
                    i64::try_from(finished.stamp.size).unwrap_or(i64::MAX),
                    finished.stamp.mtime_ns,
                    finished.pipeline_hash,
                    outputs
                ],
            )
            .map_err(|source| self.error(source))?;
        results::upsert(&transaction, key, result).map_err(|source| self.error(source))?;
        captions::replace(&transaction, key, &result.captions)
            .map_err(|source| self.error(source))?;
        transaction.commit().map_err(|source| self.error(source))?;
        self.begun.remove(key);
        self.known.insert(key.to_string(), finished);
        Ok(())
    }

    pub(super) fn writer(&self) -> Result<&Connection, JournalError> {
        self.connection
            .as_ref()
            .ok_or_else(|| JournalError::ReadOnly {
                path: self.path.display().to_string(),
            })
    }

    fn error(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }
}

/// The journal file name for a shard (`None`: the whole set).
pub fn journal_name(shard: Option<(u32, u32)>) -> String {
    match shard {
        None => "journal.sqlite".into(),
        Some((index, count)) => format!("journal-{index}-of-{count}.sqlite"),
    }
}

/// Every journal file in the state directory `dir`, `own` (this run's) last so that its
/// records win over older shards' ones.
fn journal_files(dir: &Path, own: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let mut files = journal_files_in(dir)?;
    files.sort_by_key(|p| *p == own);
    Ok(files)
}

/// The journal files in the state directory `dir`, by name; none when it does not exist.
fn journal_files_in(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| is_journal_file(p))
                .collect();
            files.sort();
            Ok(files)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(JournalError::Io {
            path: dir.display().to_string(),
            source,
        }),
    }
}

fn is_journal_file(path: &Path) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| n.starts_with("journal") && n.ends_with(".sqlite"))
}

fn open_database(path: &Path) -> Result<Connection, JournalError> {
    let error = |source| JournalError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    let connection = Connection::open(path).map_err(error)?;
    // Each record is committed on its own, and WAL keeps a kill -9 from losing or
    // corrupting what was committed.
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(error)?;
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(error)?;
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS finished (
                input TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                pipeline TEXT NOT NULL,
                outputs TEXT NOT NULL,
                finished_at INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS begun (
                input TEXT PRIMARY KEY,
                begun_at INTEGER NOT NULL
            );",
        )
        .map_err(error)?;
    // A journal from before results were kept gains the table here; until the next run
    // records them, its items have no result to show.
    connection.execute_batch(results::SCHEMA).map_err(error)?;
    connection.execute_batch(captions::SCHEMA).map_err(error)?;
    Ok(connection)
}

/// Opens a journal file for reading only, changing nothing beside it: a journal that a
/// finished run closed has no write-ahead log, and is read as an immutable file (SQLite
/// then creates no `-wal`/`-shm` files and takes no lock); one with a log (a run is
/// going on, or was killed) is read through its log, whose files are already there.
fn open_for_reading(path: &Path) -> Result<Connection, JournalError> {
    let error = |source| JournalError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mode = if Path::new(&wal).exists() {
        "mode=ro"
    } else {
        "immutable=1"
    };
    let uri = format!("file:{}?{mode}", uri_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(uri, flags).map_err(error)
}

/// `path` for an SQLite URI: bytes other than unreserved characters and `/`
/// percent-encoded, so `?`, `#` and `%` in a directory name stay part of the path.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut text = String::new();
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            text.push(char::from(byte));
        } else {
            text.push_str(&format!("%{byte:02X}"));
        }
    }
    text
}

fn read_all(
    connection: &Connection,
    path: &Path,
    output_root: &Path,
    into: &mut HashMap<String, Finished>,
) -> Result<(), JournalError> {
    let error = |source| JournalError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    let mut statement = connection
        .prepare("SELECT input, size, mtime_ns, pipeline, outputs FROM finished")
        .map_err(error)?;
    let rows = statement
        .query_map([], |row| {
            let outputs: String = row.get(4)?;
            Ok((
                row.get::<_, String>(0)?,
                Finished {
                    stamp: InputStamp {
                        size: u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
                        mtime_ns: row.get(2)?,
                    },
                    pipeline_hash: row.get(3)?,
                    // `join` keeps an absolute path (a record from outside the root) as is.
                    outputs: outputs.lines().map(|o| output_root.join(o)).collect(),
                },
            ))
        })
        .map_err(error)?;
    for row in rows {
        let (key, finished) = row.map_err(error)?;
        into.insert(key, finished);
    }
    Ok(())
}

fn read_begun(
    connection: &Connection,
    path: &Path,
    into: &mut HashSet<String>,
) -> Result<(), JournalError> {
    let error = |source| JournalError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    let mut statement = connection
        .prepare("SELECT input FROM begun")
        .map_err(error)?;
    let rows = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(error)?;
    for row in rows {
        into.insert(row.map_err(error)?);
    }
    Ok(())
}

/// Whether `key` needs no work: finished with the same input and pipeline, and every
/// output still there.
pub fn is_up_to_date(record: Option<&Finished>, stamp: InputStamp, pipeline_hash: &str) -> bool {
    record.is_some_and(|r| {
        r.stamp == stamp && r.pipeline_hash == pipeline_hash && r.outputs.iter().all(|o| o.exists())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(dir: &Path, hash: &str) -> Finished {
        let output = dir.join("out.mkv");
        std::fs::write(&output, b"x").unwrap();
        Finished {
            stamp: InputStamp {
                size: 10,
                mtime_ns: 5,
            },
            pipeline_hash: hash.into(),
            outputs: vec![output],
        }
    }

    fn result() -> ResultRecord {
        ResultRecord {
            run: "r".into(),
            recorded_ms: 0,
            entry: "{}".into(),
            captions: Vec::new(),
        }
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), &journal_name(None)).unwrap();
        journal
            .record("a/b.mp4", finished(dir.path(), "h1"), &result())
            .unwrap();
        drop(journal);
        let journal = Journal::open(dir.path(), &journal_name(None)).unwrap();
        let record = journal.finished("a/b.mp4").unwrap();
        assert!(is_up_to_date(
            Some(record),
            InputStamp {
                size: 10,
                mtime_ns: 5
            },
            "h1"
        ));
    }

    #[test]
    fn changed_input_pipeline_or_missing_output_means_redo() {
        let dir = tempfile::tempdir().unwrap();
        let record = finished(dir.path(), "h1");
        let stamp = record.stamp;
        assert!(!is_up_to_date(
            Some(&record),
            InputStamp { size: 11, ..stamp },
            "h1"
        ));
        assert!(!is_up_to_date(
            Some(&record),
            InputStamp {
                mtime_ns: 6,
                ..stamp
            },
            "h1"
        ));
        assert!(!is_up_to_date(Some(&record), stamp, "h2"));
        std::fs::remove_file(&record.outputs[0]).unwrap();
        assert!(!is_up_to_date(Some(&record), stamp, "h1"));
        assert!(!is_up_to_date(None, stamp, "h1"));
    }

    #[test]
    fn a_read_only_journal_reads_every_record_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a dir?#%");
        let mut journal = Journal::open(&root, &journal_name(None)).unwrap();
        journal
            .record("a.png", finished(&root, "h"), &result())
            .unwrap();
        journal.begin("b.png").unwrap();
        drop(journal);
        let listing = || {
            let mut files: Vec<(PathBuf, u64, std::time::SystemTime)> =
                std::fs::read_dir(root.join(STATE_DIR))
                    .unwrap()
                    .map(|e| {
                        let e = e.unwrap();
                        let m = e.metadata().unwrap();
                        (PathBuf::from(e.file_name()), m.len(), m.modified().unwrap())
                    })
                    .collect();
            files.sort();
            files
        };
        let before = listing();
        let mut read = Journal::open_read_only(&root, &journal_name(None)).unwrap();
        assert!(read.finished("a.png").is_some());
        assert!(read.was_begun("b.png"));
        assert!(matches!(
            read.begin("c.png"),
            Err(JournalError::ReadOnly { .. })
        ));
        drop(read);
        assert_eq!(listing(), before);
        let nowhere = Journal::open_read_only(&dir.path().join("none"), "journal.sqlite").unwrap();
        assert!(nowhere.finished("a.png").is_none());
        assert!(!dir.path().join("none").exists());
    }

    #[test]
    fn other_shards_journals_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut shard = Journal::open(dir.path(), &journal_name(Some((1, 2)))).unwrap();
        shard
            .record("x.png", finished(dir.path(), "h"), &result())
            .unwrap();
        drop(shard);
        let journal = Journal::open(dir.path(), &journal_name(Some((2, 2)))).unwrap();
        assert!(journal.finished("x.png").is_some());
    }
}
