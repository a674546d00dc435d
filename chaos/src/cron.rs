//! Standard five-field cron expressions (minute, hour, day of month, month,
//! day of week), evaluated in UTC: parsing with field-level error messages,
//! matching one calendar minute, and bounds on how often it can fire (for
//! validation's fire count). Owns no clock; `schedule` walks time.
//!
//! Supported: `*`, numbers, `a-b` ranges, `/n` steps (`*/5`, `10-40/10`,
//! `5/15` meaning 5 to the end in steps of 15), comma lists, month names
//! (`jan`..`dec`), weekday names (`sun`..`sat`, 0 or 7 is Sunday) and the
//! macros `@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`,
//! `@yearly`, `@annually`. As in Vixie cron, when both day of month and day
//! of week are restricted (do not start with `*`), a day matching either
//! one fires.

use std::fmt;

use crate::civil::Civil;

/// A parsed cron expression; displays as the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

/// Why a cron expression was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(String);

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const WEEKDAY: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// The longest each month can be (February in a leap year).
const MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Cron {
    /// Parses a five-field expression or one of the `@` macros.
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let expanded = match text.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other if other.starts_with('@') => {
                return Err(CronError(format!(
                    "unknown macro {other} (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)"
                )))
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            let hint = if fields.len() == 6 {
                "; seconds are not supported"
            } else {
                ""
            };
            return Err(CronError(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}{hint}",
                fields.len()
            )));
        }
        let mut weekdays = parse_field(fields[4], &WEEKDAY)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        let cron = Cron {
            text: text.trim().to_string(),
            minutes: parse_field(fields[0], &MINUTE)?,
            hours: parse_field(fields[1], &HOUR)?,
            days: parse_field(fields[2], &DAY)?,
            months: parse_field(fields[3], &MONTH)?,
            weekdays,
            days_restricted: !fields[2].starts_with('*'),
            weekdays_restricted: !fields[4].starts_with('*'),
        };
        if !cron.weekdays_restricted && !cron.some_month_has_a_day() {
            return Err(CronError(format!(
                "day-of-month {} never occurs in month {} (e.g. February 30th), so it never fires",
                fields[2], fields[3]
            )));
        }
        Ok(cron)
    }

    fn some_month_has_a_day(&self) -> bool {
        (1..=12).any(|m| {
            self.months & (1 << m) != 0
                && (1..=MONTH_DAYS[m - 1]).any(|d| self.days & (1 << d) != 0)
        })
    }

    /// Whether the day holding `t` can fire at all (month and day fields).
    pub(crate) fn matches_day(&self, t: &Civil) -> bool {
        let day = self.days & (1 << t.day) != 0;
        let weekday = self.weekdays & (1 << t.weekday) != 0;
        let day_ok = if self.days_restricted && self.weekdays_restricted {
            day || weekday
        } else {
            day && weekday
        };
        day_ok && self.months & (1 << t.month) != 0
    }

    /// Whether the hour holding `t` can fire (given a matching day).
    pub(crate) fn matches_hour(&self, t: &Civil) -> bool {
        self.hours & (1 << t.hour) != 0
    }

    /// Whether the minute holding `t` fires (the walk in `schedule` jumps
    /// with the parts instead).
    #[cfg(test)]
    pub(crate) fn matches(&self, t: &Civil) -> bool {
        self.matches_day(t) && self.matches_hour(t) && self.minutes & (1 << t.minute) != 0
    }

    /// The first minute of the hour at or after `minute` (0-59) that the
    /// minute field matches, if any.
    pub(crate) fn next_minute(&self, minute: u32) -> Option<u32> {
        let later = self.minutes.checked_shr(minute).unwrap_or(0);
        (later != 0).then(|| minute + later.trailing_zeros())
    }

    /// At most how many times it fires in one UTC day.
    pub(crate) fn max_per_day(&self) -> u64 {
        u64::from(self.hours.count_ones()) * u64::from(self.minutes.count_ones())
    }

    /// The shortest time between two fires, in minutes: the smallest gap
    /// between matching minutes of the day, the wrap to the next day
    /// included (the day fields only leave days out, which makes gaps
    /// longer).
    pub(crate) fn min_gap_minutes(&self) -> u64 {
        let day: Vec<u64> = (0..24u64)
            .filter(|h| self.hours & (1 << h) != 0)
            .flat_map(|h| {
                (0..60u64)
                    .filter(|m| self.minutes & (1 << m) != 0)
                    .map(move |m| h * 60 + m)
            })
            .collect();
        let wrap = match (day.first(), day.last()) {
            (Some(first), Some(last)) => first + 24 * 60 - last,
            _ => 24 * 60,
        };
        day.windows(2).map(|w| w[1] - w[0]).fold(wrap, u64::min)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_field(text: &str, field: &Field) -> Result<u64, CronError> {
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(CronError(format!(
                "{} {text:?} has an empty list item",
                field.name
            )));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => match step.parse::<u32>() {
                Ok(n) if n > 0 => (range, Some(n)),
                _ => {
                    return Err(CronError(format!(
                        "{} step {step:?} is not a positive number",
                        field.name
                    )))
                }
            },
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (field.min, field.max)
        } else if let Some((lo, hi)) = range.split_once('-') {
            (value(lo, field)?, value(hi, field)?)
        } else {
            let v = value(range, field)?;
            (v, if step.is_some() { field.max } else { v })
        };
        if lo > hi {
            return Err(CronError(format!(
                "{} range {range} is backwards ({lo} is after {hi})",
                field.name
            )));
        }
        for v in (lo..=hi).step_by(step.unwrap_or(1) as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

fn value(text: &str, field: &Field) -> Result<u32, CronError> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + field.min);
    }
    let n: u32 = text.parse().map_err(|_| {
        let names = if field.names.is_empty() {
            String::new()
        } else {
            format!(" or a name like {}", field.names[1])
        };
        CronError(format!("{} {text:?} is not a number{names}", field.name))
    })?;
    if n < field.min || n > field.max {
        return Err(CronError(format!(
            "{} {n} out of range ({}-{})",
            field.name, field.min, field.max
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(month: u32, day: u32, weekday: u32, hour: u32, minute: u32) -> Civil {
        Civil {
            month,
            day,
            hour,
            minute,
            weekday,
        }
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        let c = Cron::parse("*/15 9-17 * jan,jul mon-fri").unwrap();
        assert!(c.matches(&at(1, 5, 1, 9, 45)));
        assert!(!c.matches(&at(1, 5, 1, 9, 50)));
        assert!(!c.matches(&at(1, 4, 0, 9, 45)), "Sunday");
        assert!(!c.matches(&at(2, 5, 1, 9, 45)), "February");
        assert!(!c.matches(&at(1, 5, 1, 18, 0)));
        let c = Cron::parse("5/20 * * * *").unwrap();
        assert!(c.matches(&at(1, 1, 0, 0, 45)));
        assert!(!c.matches(&at(1, 1, 0, 0, 0)));
    }

    #[test]
    fn sunday_is_zero_or_seven() {
        for text in ["0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "@weekly"] {
            let c = Cron::parse(text).unwrap();
            assert!(c.matches(&at(3, 1, 0, 0, 0)), "{text}");
            assert!(!c.matches(&at(3, 2, 1, 0, 0)), "{text}");
        }
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_restricted() {
        let c = Cron::parse("0 0 13 * fri").unwrap();
        assert!(c.matches(&at(3, 13, 2, 0, 0)), "the 13th");
        assert!(c.matches(&at(3, 6, 5, 0, 0)), "a Friday");
        assert!(!c.matches(&at(3, 7, 6, 0, 0)));
        let c = Cron::parse("0 0 */2 * *").unwrap();
        assert!(c.matches(&at(3, 3, 6, 0, 0)));
        assert!(!c.matches(&at(3, 2, 5, 0, 0)));
    }

    #[test]
    fn errors_name_the_field_and_the_cause() {
        let cases = [
            ("61 * * * *", "minute 61 out of range (0-59)"),
            ("* 24 * * *", "hour 24 out of range (0-23)"),
            ("* * 0 * *", "day-of-month 0 out of range (1-31)"),
            ("* * * 13 *", "month 13 out of range (1-12)"),
            ("* * * * 8", "day-of-week 8 out of range (0-7)"),
            ("* * * * fun", "day-of-week \"fun\" is not a number or a name like mon"),
            ("*/0 * * * *", "minute step \"0\" is not a positive number"),
            ("30-10 * * * *", "minute range 30-10 is backwards (30 is after 10)"),
            ("1,,2 * * * *", "minute \"1,,2\" has an empty list item"),
            ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 4"),
            ("0 * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 6; seconds are not supported"),
            ("0 0 30 feb *", "day-of-month 30 never occurs in month feb (e.g. February 30th), so it never fires"),
        ];
        for (text, want) in cases {
            assert_eq!(Cron::parse(text).unwrap_err().to_string(), want, "{text}");
        }
        assert!(Cron::parse("@often")
            .unwrap_err()
            .to_string()
            .starts_with("unknown macro @often"));
        assert!(Cron::parse("0 0 29 2 *").is_ok(), "leap day exists");
    }

    #[test]
    fn gaps_and_counts_bound_how_often_it_fires() {
        let c = Cron::parse("*/5 * * * *").unwrap();
        assert_eq!((c.min_gap_minutes(), c.max_per_day()), (5, 288));
        let c = Cron::parse("0 10,14 * * mon-fri").unwrap();
        assert_eq!((c.min_gap_minutes(), c.max_per_day()), (4 * 60, 2));
        let c = Cron::parse("58,59 23 * * *").unwrap();
        assert_eq!(c.min_gap_minutes(), 1);
        let c = Cron::parse("@daily").unwrap();
        assert_eq!((c.min_gap_minutes(), c.max_per_day()), (24 * 60, 1));
        let c = Cron::parse("10,40 * * * *").unwrap();
        assert_eq!(c.next_minute(0), Some(10));
        assert_eq!(c.next_minute(10), Some(10));
        assert_eq!(c.next_minute(11), Some(40));
        assert_eq!(c.next_minute(41), None);
    }
}
