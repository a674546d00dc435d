//! Property tests of config.json's way in: `spec::parse` then
//! `spec::validate`, for arbitrary bytes and for `jolt spec`'s default
//! config with generated values put at the paths jolt checks. Neither may
//! panic, whatever the input: a bad bundle gets an error naming the field;
//! and no case holds more than `PEAK_BOUND` (64 MiB) at once.
//!
//! It runs proptest's default 256 cases per property (a few seconds in a
//! debug build). To search longer, raise the count, e.g.:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test --release -p jolt-runtime --test fuzz
//! ```
//!
//! A failure prints the smallest input proptest shrank it to and records
//! its seed in `runtime/tests/fuzz.regressions`, which later runs replay
//! first (commit it with the fix).

#[path = "../../chaos/tests/bounded_alloc/mod.rs"]
mod bounded_alloc;

use bounded_alloc::{peak_of, Counting, PEAK_BOUND};
use jolt_runtime::spec;
use proptest::prelude::*;

#[global_allocator]
static COUNTING: Counting = Counting;
use serde_json::{json, Value};

/// Where the generated values go: the fields `validate` reads, and their
/// parents.
const PATHS: &[&str] = &[
    "ociVersion",
    "process",
    "process.args",
    "process.args.0",
    "process.cwd",
    "process.env",
    "process.user",
    "process.user.uid",
    "process.user.additionalGids",
    "process.capabilities.bounding",
    "process.capabilities.ambient.0",
    "process.rlimits",
    "process.rlimits.0.type",
    "process.rlimits.0.soft",
    "process.consoleSize",
    "process.oomScoreAdj",
    "root",
    "root.path",
    "hostname",
    "mounts",
    "mounts.0.destination",
    "mounts.1.options",
    "mounts.2.type",
    "linux",
    "linux.namespaces",
    "linux.namespaces.0.type",
    "linux.namespaces.1.path",
    "linux.uidMappings",
    "linux.gidMappings",
    "linux.sysctl",
    "linux.resources",
    "linux.resources.memory.limit",
    "linux.resources.cpu.quota",
    "linux.resources.cpu.cpus",
    "linux.resources.pids.limit",
    "linux.resources.devices.0",
    "linux.devices",
    "linux.seccomp",
    "linux.seccomp.defaultAction",
    "linux.seccomp.syscalls",
    "linux.seccomp.architectures",
    "linux.maskedPaths",
    "linux.readonlyPaths.0",
    "linux.cgroupsPath",
    "linux.rootfsPropagation",
    "hooks",
    "hooks.prestart",
    "annotations",
];

/// Strings that mean something to a runtime, and some that should not.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop_oneof![
            Just(""),
            Just("/"),
            Just(".."),
            Just("../../etc"),
            Just("/proc/self/fd/1"),
            Just("rootfs"),
            Just("pid"),
            Just("network"),
            Just("user"),
            Just("SCMP_ACT_ERRNO"),
            Just("SCMP_ARCH_X86_64"),
            Just("RLIMIT_NOFILE"),
            Just("CAP_SYS_ADMIN"),
            Just("kernel.shmmax"),
            Just("net.ipv4.ip_forward"),
            Just("0-3"),
            Just("shared"),
            Just("a\u{0}b"),
        ]
        .prop_map(String::from),
        1 => any::<String>(),
    ]
    .boxed()
}

/// A JSON value of any shape, a few levels deep.
fn value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            Just(-1i64),
            Just(0),
            Just(1),
            Just(i64::MIN),
            Just(i64::MAX)
        ]
        .prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Puts `v` at the dotted `path` of `doc`, making objects (or growing
/// arrays) on the way.
fn put(doc: &mut Value, path: &str, v: Value) {
    let mut at = doc;
    for key in path.split('.') {
        at = match key.parse::<usize>() {
            Ok(i) => {
                if !at.is_array() {
                    *at = json!([]);
                }
                let items = at.as_array_mut().expect("made an array");
                while items.len() <= i {
                    items.push(json!({}));
                }
                &mut items[i]
            }
            Err(_) => {
                if !at.is_object() {
                    *at = json!({});
                }
                at.as_object_mut()
                    .expect("made an object")
                    .entry(key)
                    .or_insert(Value::Null)
            }
        };
    }
    *at = v;
}

/// Parses and validates `bytes` as jolt does; errors are fine, panics
/// and holding more than `PEAK_BOUND` not.
fn check(bytes: &[u8]) {
    let peak = peak_of(|| {
        if let Ok(spec) = spec::parse(bytes) {
            let _ = spec::validate(&spec);
        }
    });
    assert!(
        peak <= PEAK_BOUND,
        "{peak} bytes held at once for a {}-byte config",
        bytes.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "[{}\\[\\]:, a-z0-9\"/.-]{0,200}".prop_map(String::into_bytes),
    ]) {
        check(&bytes);
    }

    #[test]
    fn the_default_config_with_odd_values_never_panics(
        edits in prop::collection::vec((prop::sample::select(PATHS), value()), 1..4),
    ) {
        let mut doc = spec::default_config();
        for (path, v) in edits {
            put(&mut doc, path, v);
        }
        check(&serde_json::to_vec(&doc).expect("a JSON value serializes"));
    }
}
