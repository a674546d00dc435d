//! When an experiment fires: the schedule kinds, the monkey's window and
//! days, the pure math that turns a schedule, a start time, a length and a
//! seeded RNG into the planned fire times (walked lazily, one at a time),
//! and the bounds every experiment keeps to so that this math cannot
//! overflow and a schedule cannot make joltd hold too much: its length,
//! its shortest interval, its fire count and its latest end. All calendar
//! math is UTC. Owns no clock and no timers; the agent sleeps until each
//! time itself.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// The longest an experiment may run, and so the longest any duration or
/// offset in its file may be: 10 years (of 365.25 days, as humantime
/// counts them). Far beyond any experiment anyone runs, and small enough
/// that a start plus any length stays a `SystemTime`, a `u64` of
/// nanoseconds and a four-digit RFC 3339 year for every start before 9989.
pub const MAX_LENGTH: Duration = Duration::from_secs(10 * 31_557_600);

/// The shortest `every` interval and `mean-time-between`: 100 ms. A fault
/// is prepared and journaled (an fsync, p99 ~7 ms) 20 ms ahead of its fire
/// and applied in a few milliseconds, so much faster fires only queue up
/// behind each other; 100 ms is what `scripts/bench-chaos` fires at.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The most fires one experiment may have: 1 000 000 (every second for
/// 11 days, every minute for 694 days). Fire times are generated lazily,
/// a dry run lists only the first ones, and the timeline is served from
/// its file, so joltd's memory does not grow with them; but each fire
/// that happens leaves up to three events in `events.jsonl` (about 200
/// bytes each) until the experiment is deleted, so the count bounds the
/// disk one experiment can take (some 600 MB at the maximum).
pub const MAX_FIRES: u64 = 1_000_000;

/// The most fires a monkey may expect (its length over its
/// mean-time-between): half of [`MAX_FIRES`], so that chance does not
/// take it past [`MAX_FIRES`] (the count's standard deviation is about
/// the square root of its mean: 224 fires at 50 000). A monkey stops at
/// [`MAX_FIRES`] fires in any case.
pub const MAX_MONKEY_FIRES: u64 = MAX_FIRES / 2;

/// The latest instant an experiment may reach, 9999-12-31T23:59:59Z in
/// seconds since the epoch: the last second RFC 3339's four-digit years
/// (and humantime, which formats every time jolt shows) can write.
pub const LATEST_UNIX_SECS: u64 = 253_402_300_799;

/// Why an experiment cannot run from a given start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("it is before 1970-01-01T00:00:00Z, the earliest jolt plans from; give a later start")]
    BeforeEpoch,
    #[error("{start} plus the experiment's length ({length}) ends after 9999-12-31T23:59:59Z, the latest time jolt can show; give an earlier start")]
    TooLate { start: String, length: String },
}

/// The end of an experiment of `length` from `start`, if both lie between
/// 1970 and [`LATEST_UNIX_SECS`]; every time from `start` to that end is
/// then representable and printable.
pub fn end(start: SystemTime, length: Duration) -> Result<SystemTime, StartError> {
    let since_epoch = start
        .duration_since(UNIX_EPOCH)
        .map_err(|_| StartError::BeforeEpoch)?;
    let too_late = || StartError::TooLate {
        start: civil::rfc3339_seconds(start),
        length: crate::experiment::human(length),
    };
    let end = since_epoch.checked_add(length).ok_or_else(too_late)?;
    if end.as_secs() > LATEST_UNIX_SECS {
        return Err(too_late());
    }
    Ok(UNIX_EPOCH + end)
}

impl Schedule {
    /// At most how many times it fires over `length`, whatever the start,
    /// computed without walking the fires; for a monkey, how many it
    /// expects at most (its open time over its mean-time-between).
    /// Saturates at `u64::MAX`.
    pub fn max_fires(&self, length: Duration) -> u64 {
        let over = |span: u128, gap: Duration| -> u64 {
            if gap.is_zero() {
                return u64::MAX;
            }
            u64::try_from(span.div_ceil(gap.as_nanos())).unwrap_or(u64::MAX)
        };
        let length_ns = length.as_nanos();
        // A length touches at most ceil(length / 1 day) + 1 UTC days.
        let days = over(length_ns, Duration::from_secs(86_400)).saturating_add(1);
        match self {
            Schedule::At(offsets) => offsets.len() as u64,
            Schedule::Every(interval) => over(length_ns, *interval),
            Schedule::Cron(cron) => {
                let by_gap = over(length_ns, Duration::from_secs(60 * cron.min_gap_minutes()));
                by_gap.min(days.saturating_mul(cron.max_per_day()))
            }
            Schedule::Monkey(m) => {
                // Of `days` days in a row, at most this many are allowed.
                let allowed = days
                    .div_ceil(7)
                    .saturating_mul(u64::from(m.days.0.count_ones()))
                    .min(days);
                let window =
                    u128::from(m.window.end_minute - m.window.start_minute) * 60_000_000_000;
                let open = length_ns.min(u128::from(allowed).saturating_mul(window));
                over(open, m.mean_time_between)
            }
        }
    }
}

/// The fire times of `schedule` as offsets from `start`, sorted, for an
/// experiment of `length`, generated lazily: nothing is held per fire.
/// Only a monkey schedule draws from `rng`: the iterator draws from a copy,
/// and `rng` is moved past every draw the whole schedule makes, as if the
/// times had all been drawn first; so the same seed, start and length give
/// the same times and leave `rng` in the same state.
///
/// A monkey stops after [`MAX_FIRES`] fires. Walking the rest (to count
/// them) takes time in proportion to the fires, which validation bounds.
pub fn fire_times(
    schedule: &Schedule,
    start: SystemTime,
    length: Duration,
    rng: &mut ChaosRng,
) -> FireTimes {
    let start_ns = civil::unix_ns(start);
    let end_ns = start_ns + length.as_nanos() as i128;
    let walk = match schedule {
        Schedule::At(offsets) => Walk::At(offsets.clone().into_iter()),
        Schedule::Every(interval) if interval.is_zero() => Walk::Done,
        Schedule::Every(interval) => Walk::Every {
            step: interval.as_nanos() as i128,
            next: start_ns,
        },
        Schedule::Cron(cron) => {
            // The first whole minute at or after the start.
            let mut next = start_ns.div_euclid(MINUTE_NS) * MINUTE_NS;
            if next < start_ns {
                next += MINUTE_NS;
            }
            Walk::Cron {
                cron: cron.clone(),
                next,
            }
        }
        Schedule::Monkey(m) if m.mean_time_between.is_zero() => Walk::Done,
        Schedule::Monkey(m) => {
            let mut own = rng.clone();
            let need = monkey_gap(m, &mut own);
            Walk::Monkey(Box::new(MonkeyWalk {
                monkey: *m,
                rng: own,
                need,
                day: start_ns.div_euclid(DAY_NS),
                lo: 0,
                hi: 0,
                fired: 0,
            }))
        }
    };
    let times = FireTimes {
        start_ns,
        end_ns,
        walk,
    };
    if let Walk::Monkey(_) = &times.walk {
        let mut rest = times.clone();
        rest.by_ref().count();
        if let Walk::Monkey(walk) = rest.walk {
            *rng = walk.rng;
        }
    }
    times
}

/// The fire times of one schedule, as offsets from the start: see
/// [`fire_times`]. Cloning it is cheap (a monkey's RNG state, an `at`
/// list), so a copy can count what is left.
#[derive(Debug, Clone)]
pub struct FireTimes {
    start_ns: i128,
    end_ns: i128,
    walk: Walk,
}

#[derive(Debug, Clone)]
enum Walk {
    At(std::vec::IntoIter<Duration>),
    Every { step: i128, next: i128 },
    Cron { cron: Cron, next: i128 },
    Monkey(Box<MonkeyWalk>),
    Done,
}

/// Where a monkey is in its walk: the gap still `need`ed (window time)
/// before the next fire, the next `day` to open, and the open stretch
/// `lo..hi` of the current day.
#[derive(Debug, Clone)]
struct MonkeyWalk {
    monkey: Monkey,
    rng: ChaosRng,
    need: i128,
    day: i128,
    lo: i128,
    hi: i128,
    fired: u64,
}

impl Iterator for FireTimes {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // Each walk, once past the end, stays there.
        let t = match &mut self.walk {
            Walk::At(offsets) => return offsets.next(),
            Walk::Done => return None,
            Walk::Every { step, next } => {
                let t = *next;
                if t >= self.end_ns {
                    return None;
                }
                *next = t.saturating_add(*step);
                t
            }
            Walk::Cron { cron, next } => cron_next(cron, next, self.end_ns)?,
            Walk::Monkey(walk) => walk.next(self.start_ns, self.end_ns)?,
        };
        Some(offset(t - self.start_ns))
    }
}

/// Nanoseconds (at least 0, less than an experiment's length) as a
/// Duration.
fn offset(ns: i128) -> Duration {
    const NS: i128 = 1_000_000_000;
    let secs = u64::try_from(ns.div_euclid(NS)).unwrap_or(u64::MAX);
    Duration::new(secs, ns.rem_euclid(NS) as u32)
}

/// The next minute at or after `*t`, before `end_ns`, that `cron` matches;
/// `*t` moves past it.
fn cron_next(cron: &Cron, t: &mut i128, end_ns: i128) -> Option<i128> {
    const HOUR_NS: i128 = 60 * MINUTE_NS;
    while *t < end_ns {
        let c = civil::civil(*t);
        if !cron.matches_day(&c) {
            *t = (t.div_euclid(DAY_NS) + 1) * DAY_NS;
        } else if !cron.matches_hour(&c) {
            *t = (t.div_euclid(HOUR_NS) + 1) * HOUR_NS;
        } else {
            let hour = t.div_euclid(HOUR_NS) * HOUR_NS;
            match cron.next_minute(c.minute) {
                Some(m) => {
                    let at = hour + i128::from(m) * MINUTE_NS;
                    *t = at + MINUTE_NS;
                    return (at < end_ns).then_some(at);
                }
                None => *t = hour + HOUR_NS,
            }
        }
    }
    None
}

/// One gap between monkey fires, in nanoseconds of window time.
pub(crate) fn monkey_gap(m: &Monkey, rng: &mut ChaosRng) -> i128 {
    let min = m.min_gap.as_nanos() as f64;
    let spread = (m.mean_time_between.as_nanos() as f64 - min).max(0.0);
    let u: f64 = rng.random();
    (min - spread * (1.0 - u).ln()) as i128
}

impl MonkeyWalk {
    /// The next fire, in nanoseconds since the epoch. The gap after it is
    /// drawn as it fires, so the draws come in the order of the fires.
    fn next(&mut self, start_ns: i128, end_ns: i128) -> Option<i128> {
        if self.fired >= MAX_FIRES {
            return None;
        }
        let open = i128::from(self.monkey.window.start_minute) * MINUTE_NS;
        let close = i128::from(self.monkey.window.end_minute) * MINUTE_NS;
        loop {
            if self.lo < self.hi {
                if self.need < self.hi - self.lo {
                    self.lo += self.need;
                    self.need = monkey_gap(&self.monkey, &mut self.rng);
                    self.fired += 1;
                    return Some(self.lo);
                }
                self.need -= self.hi - self.lo;
                self.lo = self.hi;
                continue;
            }
            if self.day * DAY_NS >= end_ns {
                return None;
            }
            let day = self.day;
            self.day += 1;
            if self.monkey.days.contains(civil::weekday(day)) {
                self.lo = (day * DAY_NS + open).max(start_ns);
                self.hi = (day * DAY_NS + close).min(end_ns);
            }
        }
    }
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
        fire_times(&s, t(start), Duration::from_secs(length), &mut rng(1)).collect::<Vec<_>>()
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
        let fires =
            fire_times(&s, start, Duration::from_secs(2 * MIN), &mut rng(1)).collect::<Vec<_>>();
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
        let fires = fire_times(&s, t(MONDAY), Duration::from_secs(2 * MIN), &mut rng(1))
            .collect::<Vec<_>>();
        assert_eq!(secs(&fires), [0, 30, 60, 90]);
    }

    #[test]
    fn at_returns_the_offsets() {
        let s = Schedule::At(vec![Duration::from_secs(10), Duration::from_secs(90)]);
        let fires = fire_times(&s, t(MONDAY), Duration::from_secs(5 * MIN), &mut rng(1))
            .collect::<Vec<_>>();
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
        )
        .collect::<Vec<_>>();
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
        )
        .collect::<Vec<_>>();
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
        let a = fire_times(&s, t(MONDAY), Duration::from_secs(7 * DAY), &mut rng(3))
            .collect::<Vec<_>>();
        let b = fire_times(&s, t(MONDAY), Duration::from_secs(7 * DAY), &mut rng(3))
            .collect::<Vec<_>>();
        let c = fire_times(&s, t(MONDAY), Duration::from_secs(7 * DAY), &mut rng(4))
            .collect::<Vec<_>>();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn fire_times_are_lazy_so_a_long_walk_costs_nothing_up_front() {
        // A nanosecond for ten years is 3e17 fires; only those asked for
        // are made.
        let s = Schedule::Every(Duration::from_nanos(1));
        let mut fires = fire_times(&s, t(MONDAY), MAX_LENGTH, &mut rng(1));
        assert_eq!(fires.nth(1_000_000), Some(Duration::from_nanos(1_000_000)));
        let s = Schedule::Cron(Cron::parse("* * * * *").unwrap());
        let mut fires = fire_times(&s, t(MONDAY), MAX_LENGTH, &mut rng(1));
        assert_eq!(fires.nth(60), Some(Duration::from_secs(HOUR)));
    }

    #[test]
    fn a_monkey_stops_at_the_maximum_fire_count_and_leaves_the_rng_past_its_draws() {
        let m = Monkey {
            mean_time_between: Duration::from_millis(1),
            window: Window::ALL_DAY,
            days: Days::EVERY_DAY,
            min_gap: Duration::ZERO,
        };
        let s = Schedule::Monkey(m);
        let mut r = rng(5);
        let fires = fire_times(&s, t(MONDAY), Duration::from_secs(DAY), &mut r);
        assert_eq!(fires.count() as u64, MAX_FIRES);
        // One draw per fire, and the gap after the last.
        let mut by_hand = rng(5);
        for _ in 0..=MAX_FIRES {
            monkey_gap(&m, &mut by_hand);
        }
        assert_eq!(r.random::<u64>(), by_hand.random::<u64>());
    }

    #[test]
    fn max_fires_bounds_every_start_without_walking() {
        let walked = |s: &Schedule, start: u64, length: u64| {
            fire_times(s, t(start), Duration::from_secs(length), &mut rng(1)).count() as u64
        };
        for expr in [
            "*/5 * * * *",
            "0 10,14 * * mon-fri",
            "58,59 23 * * *",
            "@monthly",
        ] {
            let s = Schedule::Cron(Cron::parse(expr).unwrap());
            for length in [59, HOUR, DAY + 1, 40 * DAY] {
                let bound = s.max_fires(Duration::from_secs(length));
                for start in [MONDAY, MONDAY + 23 * HOUR + 58 * MIN, MONDAY + 12345] {
                    let n = walked(&s, start, length);
                    assert!(n <= bound, "{expr} over {length}s: {n} > {bound}");
                }
            }
        }
        let s = Schedule::Every(Duration::from_secs(7));
        assert_eq!(s.max_fires(Duration::from_secs(7 * DAY)), 86_400);
        assert_eq!(walked(&s, MONDAY, 7 * DAY), 86_400);
        let s = Schedule::Cron(Cron::parse("* * * * *").unwrap());
        assert_eq!(s.max_fires(Duration::from_secs(100_000 * DAY)), 144_000_000);
        let m = monkey(MIN, "09:00-10:00", Days::parse_name("sat").unwrap(), 0);
        // 15 days touch at most 16, of which 3 Saturdays: 3 h of window.
        assert_eq!(
            Schedule::Monkey(m).max_fires(Duration::from_secs(15 * DAY)),
            180
        );
        assert_eq!(
            Schedule::Every(Duration::ZERO).max_fires(MAX_LENGTH),
            u64::MAX
        );
    }

    #[test]
    fn an_experiment_must_end_by_the_year_9999() {
        let latest = t(LATEST_UNIX_SECS);
        assert_eq!(
            end(t(MONDAY), Duration::from_secs(DAY)),
            Ok(t(MONDAY + DAY))
        );
        assert_eq!(
            end(t(LATEST_UNIX_SECS - DAY), Duration::from_secs(DAY)),
            Ok(latest)
        );
        let start = humantime::parse_rfc3339("9999-12-31T20:00:00Z").unwrap();
        assert_eq!(
            end(start, Duration::from_secs(DAY)).unwrap_err().to_string(),
            "9999-12-31T20:00:00Z plus the experiment's length (1day) ends after 9999-12-31T23:59:59Z, the latest time jolt can show; give an earlier start"
        );
        assert!(end(t(MONDAY), Duration::MAX).is_err());
        assert_eq!(
            end(UNIX_EPOCH - Duration::from_secs(1), Duration::ZERO)
                .unwrap_err()
                .to_string(),
            "it is before 1970-01-01T00:00:00Z, the earliest jolt plans from; give a later start"
        );
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
