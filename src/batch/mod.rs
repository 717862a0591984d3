//! Running a batch safely: the journal of finished work, the output lock, shards, the
//! pipeline fingerprint and two-step interruption.

pub mod decide;
pub mod fingerprint;
mod item;
mod item_result;
pub mod journal;
pub mod lock;
pub mod scheduler;
pub mod shard;
