//! Checkpoints of a long video: the encoded segments a run has finished, kept so that a
//! run after a crash or an interruption restores only the frames after them.
//!
//! Each item has an SQLite database (`segments.sqlite` in its own directory under the
//! run's state directory). A segment's packets are stored verbatim with their exact
//! timestamps and flags, and the segment is committed in the same transaction as its
//! last packet, so a crash leaves either the whole segment or none of it. Only segments
//! that continue each other from frame 0 are used. The database also holds the item's
//! identity (the input's size and modification time and the pipeline's fingerprint):
//! segments made from another input or by another pipeline are removed, never used.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

/// The database file in an item's checkpoint directory.
const DATABASE: &str = "segments.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS identity (value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    first INTEGER PRIMARY KEY,
    count INTEGER NOT NULL,
    headers BLOB NOT NULL,
    time_base_num INTEGER NOT NULL,
    time_base_den INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS packets (
    segment INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    pts INTEGER,
    dts INTEGER,
    flags INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (segment, seq)
);";

/// Errors of the checkpoint store.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoints {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("checkpoints {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where checkpoints go and how often.
#[derive(Debug, Clone)]
pub struct CheckpointSpec {
    /// This item's checkpoint directory (see [`checkpoint_dir`]).
    pub dir: PathBuf,
    /// The input's stamp and the pipeline's fingerprint, as one line.
    pub identity: String,
    /// Seconds of video per segment.
    pub every: f64,
}

/// A finished segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Index of its first frame in decode order.
    pub first: u64,
    pub count: u64,
    /// The encoder's out-of-band stream headers.
    pub headers: Vec<u8>,
    /// Time base of its timestamps, as (numerator, denominator).
    pub time_base: (i32, i32),
}

impl Segment {
    /// The index just after its last frame.
    pub fn end(&self) -> u64 {
        self.first + self.count
    }
}

/// A stored encoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPacket {
    pub pts: Option<i64>,
    pub dts: Option<i64>,
    pub flags: i32,
    pub data: Vec<u8>,
}

/// The checkpoint store of one item, opened for a run.
pub struct Checkpoints {
    dir: PathBuf,
    connection: Connection,
    /// The segment being written: its first frame and how many packets it has.
    open: Option<(u64, u64)>,
}

/// The checkpoint directory of the item `key` (its path below the input root) under the
/// run's state directory: a hash, so any path makes a short, portable name.
pub fn checkpoint_dir(state_dir: &Path, key: &str) -> PathBuf {
    let digest = Sha256::digest(key.as_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    state_dir.join("checkpoints").join(name)
}

/// Removes a checkpoint directory (when its item is finished); a missing one is fine.
///
/// # Errors
/// The directory exists and cannot be removed.
pub fn remove_dir(dir: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Removes the checkpoint directories under `state_dir` of items not in `keys` (inputs
/// deleted or no longer selected since a run was interrupted in them); returns how many.
///
/// # Errors
/// The checkpoints directory cannot be read or an entry removed.
pub fn prune(state_dir: &Path, keys: &[String]) -> std::io::Result<usize> {
    let root = state_dir.join("checkpoints");
    let entries = match fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let wanted: std::collections::HashSet<PathBuf> = keys
        .iter()
        .map(|key| checkpoint_dir(state_dir, key))
        .collect();
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        if !wanted.contains(&path) {
            remove_dir(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Checkpoints {
    /// Opens (or creates) the store in `spec.dir`, emptying it when it belongs to
    /// another identity.
    ///
    /// # Errors
    /// The directory or the database cannot be created or read.
    pub fn open(spec: &CheckpointSpec) -> Result<Self, CheckpointError> {
        fs::create_dir_all(&spec.dir).map_err(|source| CheckpointError::Io {
            path: spec.dir.display().to_string(),
            source,
        })?;
        let path = spec.dir.join(DATABASE);
        let sqlite = |source| CheckpointError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let mut connection = Connection::open(&path).map_err(sqlite)?;
        connection.execute_batch(SCHEMA).map_err(sqlite)?;
        let stored: Option<String> = connection
            .query_row("SELECT value FROM identity", [], |row| row.get(0))
            .optional()
            .map_err(sqlite)?;
        if stored.as_deref() != Some(spec.identity.as_str()) {
            let transaction = connection.transaction().map_err(sqlite)?;
            transaction
                .execute_batch("DELETE FROM packets; DELETE FROM segments; DELETE FROM identity;")
                .map_err(sqlite)?;
            transaction
                .execute("INSERT INTO identity (value) VALUES (?1)", [&spec.identity])
                .map_err(sqlite)?;
            transaction.commit().map_err(sqlite)?;
        }
        // Packets of a segment a killed run never committed were rolled back by SQLite;
        // rows of an uncommitted segment cannot be left over.
        Ok(Self {
            dir: spec.dir.clone(),
            connection,
            open: None,
        })
    }

    fn sqlite(&self, source: rusqlite::Error) -> CheckpointError {
        CheckpointError::Sqlite {
            path: self.dir.join(DATABASE).display().to_string(),
            source,
        }
    }

    /// The finished segments that continue each other from frame 0, in order.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn completed(&self) -> Result<Vec<Segment>, CheckpointError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT first, count, headers, time_base_num, time_base_den \
                 FROM segments ORDER BY first",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok(Segment {
                    first: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(u64::MAX),
                    count: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    headers: row.get(2)?,
                    time_base: (row.get(3)?, row.get(4)?),
                })
            })
            .map_err(|e| self.sqlite(e))?;
        let mut chain: Vec<Segment> = Vec::new();
        for segment in rows {
            let segment = segment.map_err(|e| self.sqlite(e))?;
            if segment.count > 0 && segment.first == chain.last().map_or(0, Segment::end) {
                chain.push(segment);
            }
        }
        Ok(chain)
    }

    /// Starts storing the segment whose first frame is `first`.
    ///
    /// # Errors
    /// The database refuses the transaction.
    pub fn begin_segment(&mut self, first: u64) -> Result<(), CheckpointError> {
        if self.open.is_some() {
            self.connection
                .execute_batch("ROLLBACK")
                .map_err(|e| self.sqlite(e))?;
        }
        self.connection
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.sqlite(e))?;
        // Leftovers of a segment that started here in a run with other boundaries.
        self.connection
            .execute("DELETE FROM packets WHERE segment >= ?1", [to_i64(first)])
            .map_err(|e| self.sqlite(e))?;
        self.connection
            .execute("DELETE FROM segments WHERE first >= ?1", [to_i64(first)])
            .map_err(|e| self.sqlite(e))?;
        self.open = Some((first, 0));
        Ok(())
    }

    /// Stores the next packet of the open segment.
    ///
    /// # Errors
    /// The database refuses it (disk full, for example).
    pub fn add_packet(
        &mut self,
        pts: Option<i64>,
        dts: Option<i64>,
        flags: i32,
        data: &[u8],
    ) -> Result<(), CheckpointError> {
        let Some((first, seq)) = self.open else {
            return Ok(());
        };
        self.connection
            .prepare_cached(
                "INSERT INTO packets (segment, seq, pts, dts, flags, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| s.execute(params![to_i64(first), to_i64(seq), pts, dts, flags, data]))
            .map_err(|e| self.sqlite(e))?;
        self.open = Some((first, seq + 1));
        Ok(())
    }

    /// Commits the open segment as `count` frames encoded with stream `headers`.
    ///
    /// # Errors
    /// The database cannot commit.
    pub fn commit_segment(
        &mut self,
        count: u64,
        headers: &[u8],
        time_base: (i32, i32),
    ) -> Result<(), CheckpointError> {
        let Some((first, _)) = self.open.take() else {
            return Ok(());
        };
        self.connection
            .execute(
                "INSERT INTO segments (first, count, headers, time_base_num, time_base_den) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    to_i64(first),
                    to_i64(count),
                    headers,
                    time_base.0,
                    time_base.1
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        self.connection
            .execute_batch("COMMIT")
            .map_err(|e| self.sqlite(e))
    }

    /// Calls `each` with the packets of the finished segment starting at `first`, in
    /// order; returns how many there were.
    ///
    /// # Errors
    /// The database cannot be read, or `each` fails.
    pub fn for_each_packet<E>(
        &self,
        first: u64,
        mut each: impl FnMut(StoredPacket) -> Result<(), E>,
    ) -> Result<u64, E>
    where
        E: From<CheckpointError>,
    {
        let mut statement = self
            .connection
            .prepare("SELECT pts, dts, flags, data FROM packets WHERE segment = ?1 ORDER BY seq")
            .map_err(|e| self.sqlite(e))?;
        let mut rows = statement
            .query([to_i64(first)])
            .map_err(|e| self.sqlite(e))?;
        let mut count = 0;
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            let packet = (|| {
                Ok(StoredPacket {
                    pts: row.get(0)?,
                    dts: row.get(1)?,
                    flags: row.get(2)?,
                    data: row.get(3)?,
                })
            })()
            .map_err(|e| self.sqlite(e))?;
            each(packet)?;
            count += 1;
        }
        Ok(count)
    }

    /// Removes every segment, so the item starts again from its first frame.
    ///
    /// # Errors
    /// The directory cannot be removed.
    pub fn discard(self) -> std::io::Result<()> {
        let dir = self.dir.clone();
        drop(self);
        remove_dir(&dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path, identity: &str) -> CheckpointSpec {
        CheckpointSpec {
            dir: dir.join("item"),
            identity: identity.into(),
            every: 1.0,
        }
    }

    fn store(checkpoints: &mut Checkpoints, first: u64, count: u64) {
        checkpoints.begin_segment(first).unwrap();
        for i in 0..count {
            let pts = to_i64(first + i);
            checkpoints
                .add_packet(Some(pts), Some(pts - 2), 1, &[u8::try_from(i).unwrap(); 3])
                .unwrap();
        }
        checkpoints
            .commit_segment(count, b"sps", (1, 1000))
            .unwrap();
    }

    fn spans(checkpoints: &Checkpoints) -> Vec<(u64, u64)> {
        checkpoints
            .completed()
            .unwrap()
            .iter()
            .map(|s| (s.first, s.count))
            .collect()
    }

    #[test]
    fn only_segments_that_continue_each_other_from_frame_zero_count() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoints = Checkpoints::open(&spec(dir.path(), "a")).unwrap();
        assert!(spans(&checkpoints).is_empty());
        store(&mut checkpoints, 0, 4);
        store(&mut checkpoints, 4, 4);
        // After a gap (8..12 missing) nothing counts.
        store(&mut checkpoints, 12, 4);
        assert_eq!(spans(&checkpoints), [(0, 4), (4, 4)]);
        let segment = &checkpoints.completed().unwrap()[1];
        assert_eq!(
            (segment.end(), segment.headers.as_slice()),
            (8, &b"sps"[..])
        );
        let mut packets = Vec::new();
        let count = checkpoints
            .for_each_packet::<CheckpointError>(4, |p| {
                packets.push(p);
                Ok(())
            })
            .unwrap();
        assert_eq!(count, 4);
        assert_eq!(
            packets[1],
            StoredPacket {
                pts: Some(5),
                dts: Some(3),
                flags: 1,
                data: vec![1, 1, 1]
            }
        );
    }

    #[test]
    fn a_segment_never_committed_is_gone_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoints = Checkpoints::open(&spec(dir.path(), "a")).unwrap();
        store(&mut checkpoints, 0, 3);
        checkpoints.begin_segment(3).unwrap();
        checkpoints
            .add_packet(Some(3), Some(3), 0, b"half")
            .unwrap();
        // The process dies here: the connection closes without a commit.
        drop(checkpoints);
        let reopened = Checkpoints::open(&spec(dir.path(), "a")).unwrap();
        assert_eq!(spans(&reopened), [(0, 3)]);
        let stray = reopened
            .for_each_packet::<CheckpointError>(3, |_| Ok(()))
            .unwrap();
        assert_eq!(stray, 0);
    }

    #[test]
    fn another_identity_empties_the_store_and_discard_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoints = Checkpoints::open(&spec(dir.path(), "a")).unwrap();
        store(&mut checkpoints, 0, 3);
        drop(checkpoints);
        let changed = Checkpoints::open(&spec(dir.path(), "b")).unwrap();
        assert!(spans(&changed).is_empty());
        changed.discard().unwrap();
        assert!(!dir.path().join("item").exists());
        remove_dir(&dir.path().join("item")).unwrap();
    }

    #[test]
    fn a_segment_started_again_replaces_what_followed_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoints = Checkpoints::open(&spec(dir.path(), "a")).unwrap();
        store(&mut checkpoints, 0, 3);
        store(&mut checkpoints, 3, 3);
        // A run with shorter segments resumes after the first one.
        store(&mut checkpoints, 3, 2);
        assert_eq!(spans(&checkpoints), [(0, 3), (3, 2)]);
    }

    #[test]
    fn pruning_keeps_only_the_listed_items() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(prune(dir.path(), &[]).unwrap(), 0);
        for key in ["a.mkv", "b.mkv", "c.mkv"] {
            let spec = CheckpointSpec {
                dir: checkpoint_dir(dir.path(), key),
                identity: "x".into(),
                every: 1.0,
            };
            Checkpoints::open(&spec).unwrap();
        }
        let keep = ["b.mkv".to_string()];
        assert_eq!(prune(dir.path(), &keep).unwrap(), 2);
        assert!(checkpoint_dir(dir.path(), "b.mkv").exists());
        assert!(!checkpoint_dir(dir.path(), "a.mkv").exists());
    }

    #[test]
    fn directory_names_are_short_and_differ_per_item() {
        let root = Path::new("/out/.frameforge");
        let a = checkpoint_dir(root, "reels/reel 1.mkv");
        let b = checkpoint_dir(root, "reels/reel 2.mkv");
        assert_ne!(a, b);
        assert_eq!(a.file_name().unwrap().len(), 16);
        assert!(a.starts_with("/out/.frameforge/checkpoints"));
    }
}
