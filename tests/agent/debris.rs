//! What a joltd killed mid-write leaves, and what a lost state leaves in
//! the kernel: the next joltd clears the first at start (saying what it
//! removed), and reconciles the second (reporting an orphan container,
//! never killing it) at start and on `chaosctl system prune`.

use std::fs;
use std::path::Path;

use jolt_e2e::agent::Agent;

use crate::agent;

/// Writes `name` in `dir` (made if missing) with a torn JSON text.
fn torn(dir: &Path, name: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), b"{\"name\": \"hal").unwrap();
}

/// Asserts that joltd's log names `path` as removed.
#[track_caller]
fn logged_removal(a: &Agent, path: &Path) {
    let log = a.joltd_log();
    let line = log
        .lines()
        .find(|l| l.contains(&*path.to_string_lossy()) && l.contains("removed"));
    assert!(
        line.is_some(),
        "no removal of {} in:\n{log}",
        path.display()
    );
}

#[test]
fn what_a_joltd_killed_mid_write_left_is_cleared_at_the_next_start() {
    let Some(mut a) = agent() else { return };
    a.run(&["--name", "calm", "--", "sleep", "1000"]);
    a.kill9();
    // What a kill -9 in the first instants of `apply`, of `run`, and in a
    // journal write leaves: the temp file, never renamed into place.
    let state = a.state_dir();
    let experiment = state.join("experiments/nap");
    torn(&experiment, ".experiment.yaml.tmp");
    let yaml_only = state.join("experiments/half");
    torn(&yaml_only, "experiment.yaml");
    torn(&yaml_only, ".record.json.tmp");
    let container = state.join("containers/0123456789ab");
    torn(&container, ".container.json.tmp");
    let journal: Vec<_> = (0..3)
        .map(|n| state.join(format!("journal/.nap-{n}-x.json.tmp")))
        .collect();
    for path in &journal {
        torn(
            path.parent().unwrap(),
            &path.file_name().unwrap().to_string_lossy(),
        );
    }

    a.restart();
    for path in [&experiment, &yaml_only, &container]
        .into_iter()
        .chain(&journal)
    {
        assert!(!path.exists(), "{} is left", path.display());
        logged_removal(&a, path);
    }
    // The names are free again; the container that ran is still there.
    let yaml = a.path("nap.yaml");
    fs::write(
        &yaml,
        "name: nap\ntargets: {names: [calm]}\nschedule: {at: [0s]}\nfault: {kind: pause, duration: 1s}\n",
    )
    .unwrap();
    a.ok(["apply", "-f", &yaml.to_string_lossy()]);
    assert!(a.ok(["experiments"]).contains("nap"));
    assert!(!a.ok(["ps", "-a"]).contains("0123456789ab"));
    assert_eq!(a.inspect("calm")["status"]["state"], "running");
}
