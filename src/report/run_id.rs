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

/// `YYYY-MM-DDTHH:MM:SSZ` for `seconds` since the Unix epoch.
#[must_use]
pub fn utc_timestamp(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so no date library is needed for one format.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    }

    #[test]
    fn a_run_id_is_its_start_and_pid() {
        let started = UNIX_EPOCH + Duration::from_secs(1_798_283_703);
        assert_eq!(run_id(started, 4711), "2026-12-26T11:15:03Z-4711");
    }
}
