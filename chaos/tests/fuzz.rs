//! Property tests of the experiment file's way in: parse, validate, then
//! plan and print, for generated documents (well-formed ones with hostile
//! values, and arbitrary text). Nothing may panic, a validated experiment
//! never has more than `MAX_FIRES` fires, and no single case may allocate
//! more than `PEAK_BOUND` at its peak (a counting global allocator of this
//! test binary measures each case on its own thread).
//!
//! It runs proptest's default 256 cases per property (a few seconds in a
//! debug build). To search longer, raise the count, e.g.:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test --release -p jolt-chaos --test fuzz
//! ```
//!
//! A failure prints the smallest input proptest shrank it to and records
//! its seed in `chaos/tests/fuzz.regressions`, which later runs replay
//! first (commit it with the fix).

use std::time::{Duration, UNIX_EPOCH};

use jolt_chaos::plan::{plan_first, MAX_PLAN_LIMIT};
use jolt_chaos::schedule::{self, MAX_FIRES};
use jolt_chaos::selector::Candidate;
use jolt_chaos::Experiment;
use proptest::prelude::*;

mod bounded_alloc;

use bounded_alloc::{peak_of, Counting, PEAK_BOUND};

#[global_allocator]
static COUNTING: Counting = Counting;

/// Durations as people write them, and as the issue's attackers did.
fn duration() -> BoxedStrategy<String> {
    let number = prop_oneof![
        8 => 1u64..100,
        1 => Just(0u64),
        1 => 100u64..100_000,
        1 => Just(500_000_000_000),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ];
    let unit = prop_oneof![
        4 => Just("s"),
        4 => Just("m"),
        4 => Just("h"),
        2 => Just("d"),
        1 => Just("ns"),
        1 => Just("us"),
        1 => Just("ms"),
        1 => Just("w"),
        1 => Just("M"),
        1 => Just("y"),
        1 => Just("years"),
        1 => Just(""),
    ];
    prop_oneof![
        20 => (number, unit).prop_map(|(n, u)| format!("{n}{u}")),
        1 => Just("1h 30m".to_string()),
        1 => "[a-z0-9 .-]{0,8}",
    ]
    .boxed()
}

fn cron() -> BoxedStrategy<String> {
    let field = prop_oneof![
        Just("*"),
        Just("*"),
        Just("*"),
        Just("*/5"),
        Just("*/0"),
        Just("0"),
        Just("59"),
        Just("61"),
        Just("1-5"),
        Just("5-1"),
        Just("10,40"),
        Just("5/20"),
        Just("mon-fri"),
        Just("jan,jul"),
        Just("31"),
        Just("2"),
        Just("7"),
    ];
    prop_oneof![
        1 => prop::collection::vec(field.clone(), 4..=6).prop_map(|f| f.join(" ")),
        8 => prop::collection::vec(field, 5).prop_map(|f| f.join(" ")),
        1 => prop_oneof![Just("@daily"), Just("@hourly"), Just("@yearly"), Just("@often")]
            .prop_map(String::from),
        1 => "[ -~]{0,20}",
    ]
    .boxed()
}

fn window() -> BoxedStrategy<String> {
    let clock = prop_oneof![
        Just("00:00"),
        Just("12:00"),
        Just("18:30"),
        Just("09:00"),
        Just("15:00"),
        Just("23:59"),
        Just("24:00"),
        Just("25:00"),
        Just("9"),
    ];
    (clock.clone(), clock)
        .prop_map(|(a, b)| format!("{a}-{b}"))
        .boxed()
}

fn days() -> BoxedStrategy<String> {
    prop_oneof![
        Just("weekdays".to_string()),
        Just("weekends".to_string()),
        Just("every-day".to_string()),
        Just("[]".to_string()),
        Just("[sat]".to_string()),
        Just("[mon, thu]".to_string()),
        Just("[funday]".to_string()),
    ]
    .boxed()
}

fn schedule() -> BoxedStrategy<String> {
    let at =
        prop::collection::vec(duration(), 0..6).prop_map(|d| format!("at: [{}]", d.join(", ")));
    let every = duration().prop_map(|d| format!("every: {d}"));
    let cron = cron().prop_map(|c| format!("cron: '{c}'"));
    let monkey = (
        duration(),
        prop::option::of(window()),
        prop::option::of(days()),
        prop::option::of(duration()),
    )
        .prop_map(|(mean, window, days, gap)| {
            let mut m = format!("monkey: {{mean-time-between: {mean}");
            if let Some(w) = window {
                m.push_str(&format!(", window: '{w}'"));
            }
            if let Some(d) = days {
                m.push_str(&format!(", days: {d}"));
            }
            if let Some(g) = gap {
                m.push_str(&format!(", min-gap: {g}"));
            }
            m + "}"
        });
    let one = prop_oneof![at, every, cron, monkey];
    prop_oneof![
        9 => one.clone().prop_map(|kind| format!("{{{kind}}}")),
        1 => prop::collection::vec(one, 0..=2)
            .prop_map(|kinds| format!("{{{}}}", kinds.join(", "))),
    ]
    .boxed()
}

fn fault() -> BoxedStrategy<String> {
    prop_oneof![
        Just("{kind: kill}".to_string()),
        Just("{kind: kill}".to_string()),
        Just("{kind: kill}".to_string()),
        Just("{kind: kill, signal: TERM}".to_string()),
        Just("{kind: kill, signal: 99}".to_string()),
        duration().prop_map(|d| format!("{{kind: pause, duration: {d}}}")),
        (any::<f64>(), duration())
            .prop_map(|(c, d)| format!("{{kind: cpu-throttle, cpus: {c}, duration: {d}}}")),
        (duration(), prop::option::of(duration()), duration()).prop_map(|(l, j, d)| {
            let jitter = j.map(|j| format!(", jitter: {j}")).unwrap_or_default();
            format!("{{kind: network-delay, latency: {l}{jitter}, duration: {d}}}")
        }),
        Just("{kind: explode}".to_string()),
    ]
    .boxed()
}

/// A whole experiment file, mostly well-formed.
fn document() -> BoxedStrategy<String> {
    (
        prop_oneof![8 => Just("web"), 1 => Just("Bad_Name"), 1 => Just("")],
        prop::option::of(any::<u64>()),
        prop_oneof![
            3 => Just("{labels: {app: web}}"),
            3 => Just("{names: [web-1, web-2], mode: all}"),
            3 => Just("{labels: {app: web}, mode: {fixed: 2}}"),
            1 => Just("{labels: {app: web}, mode: {percent: 150}}"),
            1 => Just("{names: []}"),
        ],
        schedule(),
        prop_oneof![9 => duration().prop_map(Some), 1 => Just(None)],
        prop::option::of(0u32..4),
        fault(),
    )
        .prop_map(
            |(name, seed, targets, schedule, duration, max_active, fault)| {
                let mut text = format!("name: {name}\ntargets: {targets}\nschedule: {schedule}\n");
                if let Some(s) = seed {
                    text.push_str(&format!("seed: {s}\n"));
                }
                if let Some(d) = duration {
                    text.push_str(&format!("duration: {d}\n"));
                }
                if let Some(m) = max_active {
                    text.push_str(&format!("max-active: {m}\n"));
                }
                text + &format!("fault: {fault}\n")
            },
        )
        .boxed()
}

/// An experiment file whose values mostly fit together, up to the
/// bounds: long lengths, short intervals, many fires.
fn sane_document() -> BoxedStrategy<String> {
    let length = prop_oneof![
        Just("5m"),
        Just("1h"),
        Just("1d"),
        Just("7d"),
        Just("30d"),
        Just("1y"),
        Just("10y"),
    ];
    let schedule = prop_oneof![
        prop_oneof![
            Just("100ms"),
            Just("1s"),
            Just("7s"),
            Just("1m"),
            Just("1h")
        ]
        .prop_map(|e| format!("{{every: {e}}}")),
        prop_oneof![
            Just("* * * * *"),
            Just("*/5 * * * *"),
            Just("0 9 * * mon-fri"),
            Just("58,59 23 * * *"),
            Just("@daily"),
        ]
        .prop_map(|c| format!("{{cron: '{c}'}}")),
        (
            prop_oneof![
                Just("100ms"),
                Just("1s"),
                Just("1m"),
                Just("10m"),
                Just("1h")
            ],
            window(),
            days(),
            prop_oneof![Just("0s"), Just("50ms"), Just("1s")],
        )
            .prop_map(|(mean, w, d, g)| format!(
                "{{monkey: {{mean-time-between: {mean}, window: '{w}', days: {d}, min-gap: {g}}}}}"
            )),
        prop::collection::vec(0u64..300, 1..20).prop_map(|at| {
            let at: Vec<String> = at.iter().map(|s| format!("{s}s")).collect();
            format!("{{at: [{}]}}", at.join(", "))
        }),
    ];
    let fault = prop_oneof![
        Just("{kind: kill}"),
        Just("{kind: pause, duration: 1s}"),
        Just("{kind: cpu-throttle, cpus: 0.5, duration: 90s}"),
    ];
    (
        any::<u64>(),
        length,
        schedule,
        fault,
        1u32..4,
        prop_oneof![Just("one"), Just("all"), Just("{fixed: 2}")],
    )
        .prop_map(|(seed, length, schedule, fault, max_active, mode)| {
            format!(
                "name: web\nseed: {seed}\ntargets: {{labels: {{app: web}}, mode: {mode}}}\n\
                 schedule: {schedule}\nduration: {length}\nmax-active: {max_active}\n\
                 fault: {fault}\n"
            )
        })
        .boxed()
}

/// Starts from 1970 to past the year 9999.
fn start() -> BoxedStrategy<std::time::SystemTime> {
    let secs = prop_oneof![
        1_700_000_000u64..1_900_000_000,
        0u64..=253_402_300_799,
        253_402_000_000u64..253_403_000_000,
    ];
    (secs, 0u32..1_000_000_000)
        .prop_map(|(s, n)| UNIX_EPOCH + Duration::new(s, n))
        .boxed()
}

fn candidates() -> Vec<Candidate> {
    (1..=3)
        .map(|i| Candidate {
            id: format!("id{i}"),
            name: format!("web-{i}"),
            labels: [("app".to_string(), "web".to_string())].into(),
            annotations: Default::default(),
            origin: "joltd".into(),
            running: true,
        })
        .collect()
}

/// Parse, validate and (when valid) plan and print `text`; what a dry run
/// does.
fn dry_run(text: &str, start: std::time::SystemTime, limit: usize) -> Result<(), TestCaseError> {
    let Ok(experiment) = Experiment::from_yaml_or_json(text, "fuzz.yaml") else {
        return Ok(());
    };
    // Refused starts are planned too: planning must not panic for them.
    let _ = schedule::end(start, experiment.length());
    let plan = plan_first(&experiment, start, &candidates(), limit);
    prop_assert!(plan.total <= MAX_FIRES, "{} fires:\n{text}", plan.total);
    prop_assert!(plan.fires.len() <= limit.min(MAX_PLAN_LIMIT));
    let shown = plan.to_string();
    prop_assert!(shown.lines().count() <= plan.fires.len() + 2);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn experiment_documents_never_panic_or_hold_much(
        text in prop_oneof![document(), sane_document()],
        start in start(),
        limit in prop_oneof![Just(0usize), Just(3), Just(1000), Just(usize::MAX)],
    ) {
        let mut result = Ok(());
        let peak = peak_of(|| result = dry_run(&text, start, limit));
        result?;
        prop_assert!(peak <= PEAK_BOUND, "{peak} bytes at the peak for\n{text}");
    }

    #[test]
    fn arbitrary_text_never_panics(text in prop_oneof![
        any::<String>(),
        "[{}\\[\\]:, a-z0-9\\n'\"-]{0,200}",
        prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]) {
        let start = UNIX_EPOCH + Duration::from_secs(1_796_169_600);
        let mut result = Ok(());
        let peak = peak_of(|| result = dry_run(&text, start, 1000));
        result?;
        prop_assert!(peak <= PEAK_BOUND, "{peak} bytes at the peak for {text:?}");
    }
}
