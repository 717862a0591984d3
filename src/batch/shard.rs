//! `--shard i/n`: a deterministic share of the discovered files, chosen by a hash of each
//! file's path relative to the input root, so n copies over shared storage cover every
//! file exactly once whatever order they discover them in.

use std::path::Path;

use sha2::{Digest, Sha256};

/// One share of n (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid =
            || format!("invalid shard `{text}` (expected i/n with 1 <= i <= n, e.g. 2/8)");
        let (index, count) = text.split_once('/').ok_or_else(invalid)?;
        let index: u32 = index.trim().parse().map_err(|_| invalid())?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        if count == 0 || index == 0 || index > count {
            return Err(invalid());
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    /// Whether the file at `relative` belongs to this shard.
    pub fn owns(&self, relative: &Path) -> bool {
        shard_of(relative, self.count) == self.index
    }
}

/// The shard (1-based) that owns `relative` among `count`.
pub fn shard_of(relative: &Path, count: u32) -> u32 {
    // Forward slashes, so the share does not depend on the platform's separator.
    let key = relative.to_string_lossy().replace('\\', "/");
    let digest = Sha256::digest(key.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let value = u64::from_be_bytes(head);
    u32::try_from(value % u64::from(count)).unwrap_or_default() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(
            "2/8".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 8 }
        );
        for bad in ["0/2", "3/2", "1/0", "a/b", "2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_set() {
        let files: Vec<String> = (0..1000)
            .map(|i| format!("reels/{}/clip-{i}.mkv", i % 7))
            .collect();
        for count in [1, 2, 3, 8] {
            let mut owners = vec![0u32; files.len()];
            for index in 1..=count {
                let shard = Shard { index, count };
                for (slot, file) in files.iter().enumerate() {
                    if shard.owns(Path::new(file)) {
                        owners[slot] += 1;
                    }
                }
            }
            assert!(owners.iter().all(|o| *o == 1), "count {count}");
        }
        // Roughly even: no shard of 8 gets less than half its fair share.
        let smallest = (1..=8)
            .map(|index| {
                files
                    .iter()
                    .filter(|f| Shard { index, count: 8 }.owns(Path::new(f)))
                    .count()
            })
            .min()
            .unwrap();
        assert!(smallest > 1000 / 16, "{smallest}");
    }
}
