//! jolt-e2e: support for the end-to-end tests that run the real `jolt`
//! binary as root, the way containerd or a person at a shell would.
//!
//! Owns: finding the binary, throwaway bundles with a busybox rootfs
//! ([`Bundle`]), a runner bound to a per-test `--root` that cleans up after
//! itself even when a test panics ([`Jolt`]), polling with timeouts
//! ([`wait_until`]), the host-side checks that nothing is left behind
//! (state dir, cgroup dirs, mounts, processes; see [`host`]), the
//! receiving end of `--console-socket` ([`ConsoleSocket`]), and the kernel
//! features a test may need ([`feature`]), and a joltd of the test's own
//! driven with chaosctl ([`agent`]), and a podman and a containerd of the
//! test's own ([`podman`], [`containerd`]), and what a person looks at: an HTML page in headless
//! Chromium ([`chromium`]) and a Prometheus server of the test's own
//! that scrapes one target ([`prometheus`]).
//!
//! It knows jolt only through its command line, the OCI documents it
//! reads and prints, and what it serves; it never looks inside jolt's
//! state files.

pub mod agent;
pub mod bundle;
pub mod chromium;
pub mod console;
pub mod containerd;
pub mod feature;
pub mod host;
pub mod http;
pub mod image;
pub mod podman;
pub mod prometheus;
pub mod registry;
pub mod runner;

use std::fmt::Display;
use std::path::Path;
use std::time::{Duration, Instant};

pub use bundle::Bundle;
pub use console::{ConsoleSocket, Terminal};
pub use feature::{require, Feature};
pub use runner::{Jolt, Output, Spawned};

/// The busybox the rootfs is built from. It must be statically linked: the
/// rootfs holds no shared libraries.
pub const BUSYBOX: &str = "/bin/busybox";

/// Whether this test can run here. When it cannot, says why on stderr and
/// returns false; the test then returns early (a skip).
///
/// ```ignore
/// if !require_root() { return; }
/// ```
pub fn require_root() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: jolt end-to-end tests need root (run cargo test as root)");
        return false;
    }
    if let Err(why) = static_busybox(Path::new(BUSYBOX)) {
        eprintln!("skipped: {why} (apt-get install busybox-static)");
        return false;
    }
    true
}

/// The runner for a test that needs root: [`require_root`], then a fresh
/// [`Jolt`]. None (after saying why) where the test cannot run; the test
/// then returns early (a skip).
///
/// ```ignore
/// let Some(jolt) = session() else { return };
/// ```
pub fn session() -> Option<Jolt> {
    require_root().then(Jolt::new)
}

/// Checks that `path` is an ELF executable without a program interpreter.
fn static_busybox(path: &Path) -> Result<(), String> {
    let elf = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let not_static = || format!("{} is not a statically linked ELF binary", path.display());
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 {
        return Err(not_static());
    }
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let Some(p_type) = elf.get(at..at + 4) else {
            return Err(not_static());
        };
        const PT_INTERP: u32 = 3;
        if u32::from_le_bytes(p_type.try_into().unwrap()) == PT_INTERP {
            return Err(not_static());
        }
    }
    Ok(())
}

/// Compiles the C program `source` statically (`cc -static`) at `binary`,
/// for a test that needs a tool busybox lacks; false, after saying on
/// stderr that `what` needs a static C compiler, when it cannot (a skip).
pub fn build_static_c(source: &str, binary: &Path, what: &str) -> bool {
    let c_file = binary.with_extension("c");
    std::fs::write(&c_file, source).unwrap();
    let built = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(binary)
        .arg(&c_file)
        .status();
    std::fs::remove_file(&c_file).unwrap();
    match built {
        Ok(status) if status.success() => true,
        other => {
            eprintln!(
                "skipped: {what} needs a static C compiler \
                 (cc -static; apt-get install gcc libc6-dev): {other:?}"
            );
            false
        }
    }
}

/// How long one `jolt` invocation or one wait may take before the test
/// fails: `JOLT_E2E_TIMEOUT` seconds, 30 by default (raise it under
/// emulation).
pub fn timeout() -> Duration {
    let secs = std::env::var("JOLT_E2E_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// How much slower than a bare machine this run is: `JOLT_E2E_SLOWDOWN`, 1
/// by default. scripts/vm-test sets it for emulation, where starting a
/// process takes many times longer.
pub fn slowdown() -> u32 {
    std::env::var("JOLT_E2E_SLOWDOWN")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// How long a step that answers at once may take before the test calls it
/// hung: 2 s times [`slowdown`].
pub fn quick() -> Duration {
    Duration::from_secs(2) * slowdown()
}

/// Polls `probe` (5 ms at first, backing off to 100 ms) until it returns
/// Some, and returns that; panics naming `what` after `limit`.
#[track_caller]
pub fn wait_until<T>(
    what: impl Display,
    limit: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The lines of `text` that start with `prefix`, with the prefix removed.
pub fn lines_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .collect()
}

/// The single line of `text` starting with `prefix`, without the prefix;
/// panics showing `text` if there is none or more than one.
#[track_caller]
pub fn line_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    match lines_after(text, prefix).as_slice() {
        [one] => one,
        other => panic!(
            "expected one line starting with {prefix:?}, found {}:\n{text}",
            other.len()
        ),
    }
}
