//! UTC civil time from Unix time: the calendar fields cron and the monkey's
//! window need (year, month, day, hour, minute, weekday), and RFC 3339 text
//! that cannot fail for any instant (humantime's refuses years past 9999
//! and instants before 1970). Owns nothing but arithmetic; time zones
//! other than UTC and leap seconds are out of scope.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) const MINUTE_NS: i128 = 60 * 1_000_000_000;
pub(crate) const DAY_NS: i128 = 24 * 60 * MINUTE_NS;

/// A UTC calendar breakdown of one instant (to the minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// 0 = Sunday .. 6 = Saturday, as in cron.
    pub weekday: u32,
}

/// Nanoseconds since the Unix epoch; instants before 1970 count as 1970.
pub(crate) fn unix_ns(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Weekday of a day number (days since 1970-01-01, a Thursday); 0 = Sunday.
pub(crate) fn weekday(day: i128) -> u32 {
    (day + 4).rem_euclid(7) as u32
}

/// The calendar fields of the minute holding `ns` (nanoseconds since epoch).
pub(crate) fn civil(ns: i128) -> Civil {
    let day = ns.div_euclid(DAY_NS);
    let in_day = ns.rem_euclid(DAY_NS) / MINUTE_NS;
    let (_, month, dom) = civil_from_days(day as i64);
    Civil {
        month,
        day: dom,
        hour: (in_day / 60) as u32,
        minute: (in_day % 60) as u32,
        weekday: weekday(day),
    }
}

/// `t` as RFC 3339 UTC to the millisecond, the form every timestamp of an
/// experiment takes (records, events, reports), held between 1970 and the
/// last second humantime can write ([`crate::schedule::LATEST_UNIX_SECS`]),
/// where it would otherwise panic.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let latest = UNIX_EPOCH + std::time::Duration::from_secs(crate::schedule::LATEST_UNIX_SECS);
    humantime::format_rfc3339_millis(t.clamp(UNIX_EPOCH, latest)).to_string()
}

/// `t` as RFC 3339 UTC to the second (`2026-12-02T09:00:00Z`), the text
/// humantime's `format_rfc3339_seconds` gives where it can; instants before
/// 1970 show as 1970 (as [`unix_ns`] counts them) and years past 9999 with
/// more digits, so formatting never fails.
pub(crate) fn rfc3339_seconds(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (day, in_day) = (secs / 86_400, secs % 86_400);
    // A SystemTime holds at most i64::MAX seconds, so its day fits an i64
    // with room for the algorithm's offsets.
    let (year, month, dom) = civil_from_days(day as i64);
    format!(
        "{year:04}-{month:02}-{dom:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31) in the proleptic
/// Gregorian calendar (Howard Hinnant's days-to-civil algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // 2026-12-02 is a Wednesday.
        let ns = 1_796_169_600 * 1_000_000_000 + 9 * 60 * MINUTE_NS + 30 * MINUTE_NS;
        assert_eq!(
            civil(ns),
            Civil {
                month: 12,
                day: 2,
                hour: 9,
                minute: 30,
                weekday: 3
            }
        );
    }

    #[test]
    fn rfc3339_matches_humantime_and_goes_beyond_it() {
        use std::time::Duration;
        for secs in [0, 1_796_202_030, 951_782_400, 253_402_300_799] {
            let t = UNIX_EPOCH + Duration::new(secs, 999_999_999);
            assert_eq!(
                rfc3339_seconds(t),
                humantime::format_rfc3339_seconds(t).to_string()
            );
        }
        let past_9999 = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(rfc3339_seconds(past_9999), "10000-01-01T00:00:00Z");
        let before_1970 = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(rfc3339_seconds(before_1970), "1970-01-01T00:00:00Z");
    }
}
