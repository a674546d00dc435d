//! UTC civil time from Unix time: the calendar fields cron and the monkey's
//! window need (year, month, day, hour, minute, weekday). Owns nothing but
//! arithmetic; time zones other than UTC and leap seconds are out of scope.

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
}
