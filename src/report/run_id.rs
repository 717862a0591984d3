//! Which run made a report entry: a run id is the run's start in UTC (ISO 8601) and its
//! process id, `2026-11-26T10:15:03Z-4711`. It reads as a date, sorts by time, and two
//! runs (shards on several hosts, say) starting in the same second still differ.

use std::time::{SystemTime, UNIX_EPOCH};

/// The id of a run that started at `started` as process `pid`.
#[must_use]
pub fn run_id(started: SystemTime, pid: u32) -> String {
    format!("{}-{pid}", utc_timestamp(unix_seconds(started)))
}

/// Seconds since the Unix epoch (0 for a clock set before it).
#[must_use]
pub fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for `seconds` since the Unix epoch (the epoch itself for a
/// time outside what a date can say).
#[must_use]
pub fn utc_timestamp(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_iso_8601() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        // `date -u -d @951868799`: the last second of a leap-year February.
        assert_eq!(utc_timestamp(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(utc_timestamp(1_798_283_703), "2026-12-26T11:15:03Z");
        assert_eq!(utc_timestamp(-1), "1969-12-31T23:59:59Z");
        assert_eq!(utc_timestamp(20_783 * 86_400), "2026-11-26T00:00:00Z");
    }

    #[test]
    fn a_run_id_is_its_start_and_pid() {
        let started = UNIX_EPOCH + Duration::from_secs(1_798_283_703);
        assert_eq!(run_id(started, 4711), "2026-12-26T11:15:03Z-4711");
    }
}
