//! When an experiment fires: the schedule kinds, the monkey's window and
//! days, and the pure math that turns a schedule, a start time, a length
//! and a seeded RNG into the planned fire times. All calendar math is UTC.
//! Owns no clock and no timers; the agent sleeps until each time itself.

use std::fmt;
use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::civil::{self, DAY_NS, MINUTE_NS};
use crate::cron::Cron;
use crate::ChaosRng;

/// When an experiment fires. In the file, exactly one of `at`, `every`,
/// `cron` or `monkey` under `schedule`.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Fixed offsets from the start, sorted, each before the end.
    At(Vec<Duration>),
    /// At the start, then every interval, while before the end.
    Every(Duration),
    /// Each UTC minute the expression matches, from the start to the end.
    Cron(Cron),
    /// Random times, Chaos Monkey style.
    Monkey(Monkey),
}

/// Random fire times: a Poisson-like process that only runs inside the
/// window on the given days (UTC).
///
/// Gaps between fires are `min-gap` plus an exponential draw with mean
/// `mean-time-between − min-gap`, so the mean gap is `mean-time-between`
/// and no two fires are closer than `min-gap`. Gaps are measured in window
/// time: the clock stops while the window is closed, so a gap that begins
/// at 14:50 in a 09:00-15:00 window continues at 09:00 the next open day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monkey {
    pub mean_time_between: Duration,
    pub window: Window,
    pub days: Days,
    pub min_gap: Duration,
}

/// A daily UTC time window `HH:MM-HH:MM`, start included, end excluded;
/// the end may be `24:00`. Windows that cross midnight are not supported:
/// write two experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start_minute: u16,
    end_minute: u16,
}

impl Window {
    pub const ALL_DAY: Window = Window {
        start_minute: 0,
        end_minute: 24 * 60,
    };

    /// Parses `09:00-15:00`.
    pub fn parse(text: &str) -> Result<Window, String> {
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| "expected HH:MM-HH:MM (UTC), e.g. 09:00-15:00".to_string())?;
        let start = clock(a.trim(), false)?;
        let end = clock(b.trim(), true)?;
        if start >= end {
            return Err(format!(
                "start {} is not before end {} (windows cannot cross midnight)",
                a.trim(),
                b.trim()
            ));
        }
        Ok(Window {
            start_minute: start,
            end_minute: end,
        })
    }
}

fn clock(text: &str, end: bool) -> Result<u16, String> {
    let bad = || format!("{text:?} is not a time like 09:00");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if end && h == 24 && m == 0 {
        return Ok(24 * 60);
    }
    if h > 23 {
        return Err(format!("hour {h} out of range (0-23, or 24:00 as an end)"));
    }
    if m > 59 {
        return Err(format!("minute {m} out of range (0-59)"));
    }
    Ok(h * 60 + m)
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, e) = (self.start_minute, self.end_minute);
        write!(f, "{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60)
    }
}

/// Days of the week a monkey may fire on (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(u8);

const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Days {
    pub const EVERY_DAY: Days = Days(0b111_1111);
    pub const WEEKDAYS: Days = Days(0b011_1110);
    pub const WEEKENDS: Days = Days(0b100_0001);

    /// `weekdays`, `weekends`, `every-day`, or one day name.
    pub fn parse_name(text: &str) -> Result<Days, String> {
        match text {
            "weekdays" => Ok(Days::WEEKDAYS),
            "weekends" => Ok(Days::WEEKENDS),
            "every-day" => Ok(Days::EVERY_DAY),
            day => day_bit(day).map(Days).ok_or_else(|| {
                format!("unknown days {day:?} (expected weekdays, weekends, every-day or a list like [mon, tue])")
            }),
        }
    }

    /// A list of day names (`mon`..`sun`); on error, the index of the bad
    /// item if there is one.
    pub fn parse_list(items: &[String]) -> Result<Days, (Option<usize>, String)> {
        if items.is_empty() {
            return Err((
                None,
                "an empty list never fires; name days like [mon, tue] or write weekdays".into(),
            ));
        }
        let mut bits = 0;
        for (i, item) in items.iter().enumerate() {
            bits |= day_bit(item).ok_or_else(|| {
                (
                    Some(i),
                    format!(
                        "unknown day {item:?} (expected one of mon, tue, wed, thu, fri, sat, sun)"
                    ),
                )
            })?;
        }
        Ok(Days(bits))
    }

    /// Whether `weekday` (0 = Sunday) is included.
    pub fn contains(self, weekday: u32) -> bool {
        self.0 & (1 << weekday) != 0
    }
}

fn day_bit(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    DAY_NAMES.iter().position(|d| lower == *d).map(|i| 1 << i)
}

/// The fire times of `schedule` as offsets from `start`, sorted, for an
/// experiment of `length`. Only a monkey schedule draws from `rng`, so the
/// same seed, start and length give the same times.
pub fn fire_times(
    schedule: &Schedule,
    start: SystemTime,
    length: Duration,
    rng: &mut ChaosRng,
) -> Vec<Duration> {
    let start_ns = civil::unix_ns(start);
    let end_ns = start_ns + length.as_nanos() as i128;
    let times: Vec<i128> = match schedule {
        Schedule::At(offsets) => return offsets.clone(),
        Schedule::Every(interval) => {
            let step = interval.as_nanos() as i128;
            if step == 0 {
                return Vec::new();
            }
            (0..)
                .map(|k| start_ns + k * step)
                .take_while(|t| *t < end_ns)
                .collect()
        }
        Schedule::Cron(cron) => cron_times(cron, start_ns, end_ns),
        Schedule::Monkey(m) => monkey_times(m, start_ns, end_ns, rng),
    };
    times
        .into_iter()
        .map(|t| Duration::from_nanos((t - start_ns) as u64))
        .collect()
}

fn cron_times(cron: &Cron, start_ns: i128, end_ns: i128) -> Vec<i128> {
    let mut out = Vec::new();
    // The first whole minute at or after the start.
    let mut t = start_ns.div_euclid(MINUTE_NS) * MINUTE_NS;
    if t < start_ns {
        t += MINUTE_NS;
    }
    while t < end_ns {
        let c = civil::civil(t);
        if !cron.matches_day(&c) {
            t = (t.div_euclid(DAY_NS) + 1) * DAY_NS;
        } else if !cron.matches_hour(&c) {
            t = (t.div_euclid(60 * MINUTE_NS) + 1) * 60 * MINUTE_NS;
        } else {
            if cron.matches(&c) {
                out.push(t);
            }
            t += MINUTE_NS;
        }
    }
    out
}

/// One gap between monkey fires, in nanoseconds of window time.
pub(crate) fn monkey_gap(m: &Monkey, rng: &mut ChaosRng) -> i128 {
    let min = m.min_gap.as_nanos() as f64;
    let spread = (m.mean_time_between.as_nanos() as f64 - min).max(0.0);
    let u: f64 = rng.random();
    (min - spread * (1.0 - u).ln()) as i128
}

fn monkey_times(m: &Monkey, start_ns: i128, end_ns: i128, rng: &mut ChaosRng) -> Vec<i128> {
    let mut out = Vec::new();
    if m.mean_time_between.is_zero() {
        return out;
    }
    let open = i128::from(m.window.start_minute) * MINUTE_NS;
    let close = i128::from(m.window.end_minute) * MINUTE_NS;
    let mut need = monkey_gap(m, rng);
    let mut day = start_ns.div_euclid(DAY_NS);
    while day * DAY_NS < end_ns {
        if m.days.contains(civil::weekday(day)) {
            let mut lo = (day * DAY_NS + open).max(start_ns);
            let hi = (day * DAY_NS + close).min(end_ns);
            while lo < hi {
                if need < hi - lo {
                    lo += need;
                    out.push(lo);
                    need = monkey_gap(m, rng);
                } else {
                    need -= hi - lo;
                    lo = hi;
                }
            }
        }
        day += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;
    use std::time::UNIX_EPOCH;

    const MIN: u64 = 60;
    const HOUR: u64 = 3600;
    const DAY: u64 = 86_400;
    /// 2026-11-30 00:00:00 UTC, a Monday.
    const MONDAY: u64 = 1_796_169_600 - 2 * DAY;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn secs(d: &[Duration]) -> Vec<u64> {
        d.iter().map(|d| d.as_secs()).collect()
    }

    fn cron(expr: &str, start: u64, length: u64) -> Vec<Duration> {
        let s = Schedule::Cron(Cron::parse(expr).unwrap());
        fire_times(&s, t(start), Duration::from_secs(length), &mut rng(1))
    }

    #[test]
    fn cron_every_five_minutes_for_an_hour_fires_twelve_times() {
        let fires = cron("*/5 * * * *", MONDAY + 10 * HOUR, HOUR);
        assert_eq!(fires.len(), 12);
        assert_eq!(fires[0], Duration::ZERO);
        assert_eq!(fires[11], Duration::from_secs(55 * MIN));
    }

    #[test]
    fn cron_waits_for_the_next_whole_minute() {
        let start =
            UNIX_EPOCH + Duration::from_secs(MONDAY + 10 * HOUR + 30) + Duration::from_millis(250);
        let s = Schedule::Cron(Cron::parse("* * * * *").unwrap());
        let fires = fire_times(&s, start, Duration::from_secs(2 * MIN), &mut rng(1));
        assert_eq!(
            fires,
            [Duration::from_millis(29_750), Duration::from_millis(89_750)]
        );
    }

    #[test]
    fn cron_on_weekday_mornings_skips_the_weekend() {
        let fires = cron("0 9 * * 1-5", MONDAY, 14 * DAY);
        assert_eq!(fires.len(), 10);
        for f in &fires {
            let day = (MONDAY + f.as_secs()) / DAY;
            assert!((1..=5).contains(&civil::weekday(day as i128)));
            assert_eq!(f.as_secs() % DAY, 9 * HOUR);
        }
    }

    #[test]
    fn every_fires_at_the_start_then_each_interval_before_the_end() {
        let s = Schedule::Every(Duration::from_secs(30));
        let fires = fire_times(&s, t(MONDAY), Duration::from_secs(2 * MIN), &mut rng(1));
        assert_eq!(secs(&fires), [0, 30, 60, 90]);
    }

    #[test]
    fn at_returns_the_offsets() {
        let s = Schedule::At(vec![Duration::from_secs(10), Duration::from_secs(90)]);
        let fires = fire_times(&s, t(MONDAY), Duration::from_secs(5 * MIN), &mut rng(1));
        assert_eq!(secs(&fires), [10, 90]);
    }

    fn monkey(mean: u64, window: &str, days: Days, min_gap: u64) -> Monkey {
        Monkey {
            mean_time_between: Duration::from_secs(mean),
            window: Window::parse(window).unwrap(),
            days,
            min_gap: Duration::from_secs(min_gap),
        }
    }

    #[test]
    fn monkey_fires_only_inside_the_window_on_weekdays_and_never_too_close() {
        let m = monkey(10 * MIN, "09:00-15:00", Days::WEEKDAYS, 2 * MIN);
        let fires = fire_times(
            &Schedule::Monkey(m),
            t(MONDAY),
            Duration::from_secs(28 * DAY),
            &mut rng(7),
        );
        // 20 weekdays * 6 h / 10 min = 720 expected.
        assert!((600..=840).contains(&fires.len()), "{}", fires.len());
        for f in &fires {
            let at = MONDAY + f.as_secs();
            let wd = civil::weekday((at / DAY) as i128);
            assert!((1..=5).contains(&wd), "fired on weekday {wd}");
            let tod = at % DAY;
            assert!(
                (9 * HOUR..15 * HOUR).contains(&tod),
                "fired at {tod}s into the day"
            );
        }
        for pair in fires.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_secs(2 * MIN));
        }
    }

    #[test]
    fn monkey_gaps_average_the_mean_time_between() {
        let m = monkey(10 * MIN, "00:00-24:00", Days::EVERY_DAY, 2 * MIN);
        let mut r = rng(42);
        let n = 10_000;
        let total: i128 = (0..n).map(|_| monkey_gap(&m, &mut r)).sum();
        let mean = total as f64 / n as f64 / 1e9;
        let want = (10 * MIN) as f64;
        assert!(
            (mean - want).abs() < want * 0.1,
            "mean {mean}s, want {want}s"
        );
        // Over a whole schedule, too: ~14 days / 10 min = 2016 fires.
        let fires = fire_times(
            &Schedule::Monkey(m),
            t(MONDAY),
            Duration::from_secs(14 * DAY),
            &mut rng(42),
        );
        let want = (14 * DAY / (10 * MIN)) as f64;
        assert!(
            (fires.len() as f64 - want).abs() < want * 0.1,
            "{} fires",
            fires.len()
        );
    }

    #[test]
    fn monkey_is_deterministic_for_a_seed() {
        let s = Schedule::Monkey(monkey(HOUR, "09:00-17:00", Days::EVERY_DAY, 0));
        let a = fire_times(&s, t(MONDAY), Duration::from_secs(7 * DAY), &mut rng(3));
        let b = fire_times(&s, t(MONDAY), Duration::from_secs(7 * DAY), &mut rng(3));
        let c = fire_times(&s, t(MONDAY), Duration::from_secs(7 * DAY), &mut rng(4));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn windows_and_days_parse_with_clear_errors() {
        assert_eq!(
            Window::parse("09:00-15:00").unwrap().to_string(),
            "09:00-15:00"
        );
        assert_eq!(Window::parse("00:00-24:00").unwrap(), Window::ALL_DAY);
        assert_eq!(
            Window::parse("25:00-15:00").unwrap_err(),
            "hour 25 out of range (0-23, or 24:00 as an end)"
        );
        assert_eq!(
            Window::parse("09:60-15:00").unwrap_err(),
            "minute 60 out of range (0-59)"
        );
        assert_eq!(
            Window::parse("15:00-09:00").unwrap_err(),
            "start 15:00 is not before end 09:00 (windows cannot cross midnight)"
        );
        assert_eq!(
            Window::parse("9-15").unwrap_err(),
            "\"9\" is not a time like 09:00"
        );
        assert_eq!(Days::parse_name("weekdays").unwrap(), Days::WEEKDAYS);
        let list = ["Mon".to_string(), "sat".to_string()];
        let d = Days::parse_list(&list).unwrap();
        assert!(d.contains(1) && d.contains(6) && !d.contains(0));
        let bad = ["mon".to_string(), "funday".to_string()];
        assert_eq!(Days::parse_list(&bad).unwrap_err().0, Some(1));
    }
}
