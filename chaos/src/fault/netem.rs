//! network-delay: a netem qdisc as the root qdisc of the container's
//! interface inside its network namespace, holding (and optionally
//! dropping) every packet the container sends. The interface is the
//! target's, or, when it names none (a container joltd did not wire), the
//! one that holds the namespace's default route (`ip -j route show
//! default`, IPv4 first); no default route is a refusal that says so.
//!
//! Ownership: the qdisc carries jolt's own handle, major [`JOLT_QDISC_MAJOR`]
//! (0x4a4c, "JL" in ASCII), shown by `tc qdisc show` as `netem 4a4c:`.
//! jolt adds it only over the kernel's default root qdisc (handle `0:`),
//! refuses an interface whose root qdisc someone else made, and on revert
//! deletes the root qdisc only while it has jolt's handle. The add uses
//! `tc qdisc add` (exclusive), never `replace`, so a foreign qdisc that
//! appears between prepare and apply makes the add fail instead of being
//! overwritten.
//!
//! Mechanism: the `tc` binary of iproute2, run with Command and a pre_exec
//! hook that setns(2)s the child into the container's netns file (our
//! netns files are not under /run/netns, so `ip netns exec` cannot name
//! them). No thread of the caller ever enters the netns. tc rather than
//! netlink-packet-route because that crate does not model netem's
//! TCA_OPTIONS (a struct tc_netem_qopt followed by nested attributes for
//! correlation, jitter and loss); iproute2 is netem's reference encoder,
//! and its stderr carries the kernel's extended ack text into our errors.
//! These calls block for a few milliseconds while tc runs.
//!
//! netem's `limit` is the number of packets it may hold; its default of
//! 1000 turns a delay into drops once rate × delay exceeds it (1000 packets
//! are 12 Mbit of full frames, so 100 ms of anything above ~120 Mbit/s).
//! jolt sets room for 1 million packets per second (about 12 Gbit/s of
//! 1500-byte frames) for the longest delay (latency + jitter), and never
//! less than 100000. It is only a cap: memory goes to packets actually
//! queued.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{FaultError, Reverted, Undo};
use crate::experiment::NetworkDelay;
use crate::target::Target;

/// The major number of every qdisc handle jolt creates: 0x4a4c, "JL".
pub const JOLT_QDISC_MAJOR: u16 = 0x4a4c;
/// jolt's qdisc handle as the kernel stores it (major << 16, minor 0).
const JOLT_HANDLE: u32 = (JOLT_QDISC_MAJOR as u32) << 16;

/// Packets per second netem's limit makes room for, over the longest delay.
const LIMIT_RATE_PPS: f64 = 1_000_000.0;
const MIN_LIMIT: u32 = 100_000;

/// netem's limit for `delay`: see the module doc.
fn limit(delay: &NetworkDelay) -> u32 {
    let longest = delay
        .latency
        .saturating_add(delay.jitter.unwrap_or_default());
    let packets = (longest.as_secs_f64() * LIMIT_RATE_PPS).ceil();
    (packets.min(u32::MAX as f64) as u32).max(MIN_LIMIT)
}

/// The tc handle text of a 32-bit handle: `4a4c:` for major 0x4a4c.
fn handle_text(handle: u32) -> String {
    format!("{:x}:", handle >> 16)
}

/// `netem ...` arguments for tc: limit, delay with jitter and correlation,
/// loss. Times in microseconds, netem's own unit.
pub(super) fn netem_args(delay: &NetworkDelay) -> Vec<String> {
    let mut args = vec![
        "netem".to_string(),
        "limit".to_string(),
        limit(delay).to_string(),
        "delay".to_string(),
        format!("{}us", delay.latency.as_micros()),
    ];
    if let Some(jitter) = delay.jitter {
        args.push(format!("{}us", jitter.as_micros()));
        if let Some(c) = delay.correlation {
            args.push(format!("{c}%"));
        }
    }
    if let Some(loss) = delay.loss {
        args.extend(["loss".to_string(), format!("{loss}%")]);
    }
    args
}

/// Runs tc with `args` in the network namespace at `netns`, from a child
/// that setns'd into it before exec.
fn tc_in(netns: &Path, args: &[String]) -> io::Result<Output> {
    run_in(netns, "tc", args)
}

/// Runs iproute2's `program` with `args` in the network namespace at
/// `netns`, from a child that setns'd into it before exec.
fn run_in(netns: &Path, program: &str, args: &[String]) -> io::Result<Output> {
    let ns = File::open(netns)?;
    let fd = ns.as_raw_fd();
    let mut command = Command::new(program);
    command.args(args).env("LC_ALL", "C").stdin(Stdio::null());
    // SAFETY: between fork and exec the hook only calls setns(2), which is
    // async-signal-safe, on an fd `ns` keeps open until output() returns.
    unsafe {
        command.pre_exec(move || match libc::setns(fd, libc::CLONE_NEWNET) {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        });
    }
    let output = command.output();
    drop(ns);
    match output {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{program} not found in PATH (install iproute2)"),
        )),
        other => other,
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

fn no_device(out: &Output) -> bool {
    stderr(out).contains("Cannot find device")
}

/// The root qdisc's kind and handle (`0:` for the kernel's default).
fn root_qdisc(json: &str) -> Result<Option<(String, String)>, String> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("tc -j printed {json:?}: {e}"))?;
    Ok(list
        .iter()
        .find(|q| q["root"].as_bool() == Some(true))
        .map(|q| {
            let field = |k: &str| q[k].as_str().unwrap_or_default().to_string();
            (field("kind"), field("handle"))
        }))
}

/// What `tc -j qdisc show dev IFACE` says is the root qdisc, or why not.
enum Shown {
    Root(Option<(String, String)>),
    NoDevice,
}

fn show(netns: &Path, interface: &str) -> Result<Shown, (String, io::Result<Output>)> {
    let args: Vec<String> = ["-j", "qdisc", "show", "dev", interface]
        .map(String::from)
        .into();
    match tc_in(netns, &args) {
        Ok(out) if out.status.success() => {
            match root_qdisc(&String::from_utf8_lossy(&out.stdout)) {
                Ok(root) => Ok(Shown::Root(root)),
                Err(why) => Err((why, Ok(out))),
            }
        }
        Ok(out) if no_device(&out) => Ok(Shown::NoDevice),
        other => Err((format!("tc qdisc show dev {interface}"), other)),
    }
}

fn tc_error(context: String, what: String, result: io::Result<Output>) -> FaultError {
    match result {
        Ok(out) => FaultError::Tc {
            context: format!("{context}: {what}"),
            stderr: stderr(&out),
        },
        Err(source) => FaultError::Kernel {
            context: format!("{context}: {what}"),
            source,
        },
    }
}

/// The interface of the first default route in `ip -j route` output.
fn default_route_device(json: &str) -> Result<Option<String>, String> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("ip -j printed {json:?}: {e}"))?;
    Ok(list
        .iter()
        .filter_map(|r| r["dev"].as_str())
        .next()
        .map(str::to_string))
}

/// The interface holding the default route in `netns` (IPv4 first, then
/// IPv6), or why there is none.
fn default_interface(netns: &Path, context: &str) -> Result<Result<String, String>, FaultError> {
    for family in ["-4", "-6"] {
        let args: Vec<String> = ["-j", family, "route", "show", "default"]
            .map(String::from)
            .into();
        let what = format!("ip {}", args.join(" "));
        match run_in(netns, "ip", &args) {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                // ip prints nothing at all for a family with no route.
                let found = match text.trim() {
                    "" => None,
                    json => default_route_device(json).map_err(|why| FaultError::Tc {
                        context: format!("{context}: {what}"),
                        stderr: why,
                    })?,
                };
                if let Some(dev) = found {
                    return Ok(Ok(dev));
                }
            }
            other => return Err(tc_error(context.to_string(), what, other)),
        }
    }
    Ok(Err(format!(
        "no default route in its network namespace {}, so no interface to delay (give the container a network with a default route)",
        netns.display()
    )))
}

pub(super) fn prepare(target: &Target) -> Result<Undo, FaultError> {
    let refuse = |reason: String| FaultError::Refused {
        container: target.name.clone(),
        fault: "network-delay",
        reason,
    };
    let netns = target
        .netns
        .as_ref()
        .ok_or_else(|| refuse("it has no network namespace of its own".into()))?;
    if !netns.exists() {
        return Err(refuse(format!(
            "its network namespace {} is gone",
            netns.display()
        )));
    }
    let context = format!(
        "container {}: network-delay: in {}",
        target.name,
        netns.display()
    );
    let interface = match &target.interface {
        Some(name) => name.clone(),
        None => default_interface(netns, &context)?.map_err(refuse)?,
    };
    let interface = &interface;
    match show(netns, interface) {
        Err((what, result)) => Err(tc_error(context, what, result)),
        Ok(Shown::NoDevice) => Err(refuse(format!(
            "no interface {interface} in its network namespace {}",
            netns.display()
        ))),
        Ok(Shown::Root(Some((kind, handle)))) if handle == handle_text(JOLT_HANDLE) => {
            Err(refuse(format!(
                "{interface} already has jolt's {kind} qdisc {handle} (a delay is active)"
            )))
        }
        Ok(Shown::Root(Some((kind, handle)))) if handle != "0:" => Err(refuse(format!(
            "{interface} has a root qdisc jolt did not create ({kind} {handle}); jolt leaves it alone"
        ))),
        Ok(Shown::Root(_)) => Ok(Undo::Qdisc {
            netns: netns.clone(),
            interface: interface.clone(),
            handle: JOLT_HANDLE,
        }),
    }
}

/// Whether tc's failure to add a netem qdisc means the kernel has none:
/// the kernel's extended ack says the kind is unknown; older tc prints only
/// ENOENT, which for an add means the same when no sch_netem is loaded.
fn netem_missing(err: &str) -> bool {
    err.contains("qdisc kind is unknown")
        || (err.contains("No such file or directory")
            && !Path::new("/sys/module/sch_netem").exists())
}

pub(super) fn apply(
    delay: &NetworkDelay,
    target: &Target,
    netns: &Path,
    interface: &str,
    handle: u32,
) -> Result<(), FaultError> {
    let mut args: Vec<String> = ["qdisc", "add", "dev", interface, "root", "handle"]
        .map(String::from)
        .into();
    args.push(handle_text(handle));
    args.extend(netem_args(delay));
    let context = format!(
        "container {}: network-delay: in {}",
        target.name,
        netns.display()
    );
    match tc_in(netns, &args) {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) if netem_missing(&stderr(&out)) => Err(FaultError::NetemMissing {
            container: target.name.clone(),
        }),
        other => Err(tc_error(context, format!("tc {}", args.join(" ")), other)),
    }
}

pub(super) fn revert(netns: &Path, interface: &str, handle: u32) -> Result<Reverted, FaultError> {
    let context = format!("revert: in {}", netns.display());
    let ours = handle_text(handle);
    match show(netns, interface) {
        Ok(Shown::NoDevice) => return Ok(Reverted::TargetGone),
        // The netns file is gone, or is no longer a namespace (unmounted).
        Err((_, Err(e)))
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::EINVAL) =>
        {
            return Ok(Reverted::TargetGone)
        }
        Err((what, result)) => return Err(tc_error(context, what, result)),
        Ok(Shown::Root(root)) if root.as_ref().is_none_or(|(_, h)| *h != ours) => {
            return Ok(Reverted::AlreadyClean)
        }
        Ok(Shown::Root(_)) => {}
    }
    let args: Vec<String> = ["qdisc", "del", "dev", interface, "root", "handle", &ours]
        .map(String::from)
        .into();
    match tc_in(netns, &args) {
        Ok(out) if out.status.success() => Ok(Reverted::Done),
        Ok(out) if no_device(&out) => Ok(Reverted::TargetGone),
        other => Err(tc_error(context, format!("tc {}", args.join(" ")), other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn delay(ms: u64) -> NetworkDelay {
        NetworkDelay {
            latency: Duration::from_millis(ms),
            jitter: None,
            correlation: None,
            loss: None,
            duration: Duration::from_secs(60),
        }
    }

    #[test]
    fn netem_arguments_carry_every_parameter_in_microseconds() {
        assert_eq!(
            netem_args(&delay(100)),
            ["netem", "limit", "100000", "delay", "100000us"]
        );
        let full = NetworkDelay {
            jitter: Some(Duration::from_micros(10_500)),
            correlation: Some(25.0),
            loss: Some(0.5),
            ..delay(400)
        };
        assert_eq!(
            netem_args(&full),
            ["netem", "limit", "410500", "delay", "400000us", "10500us", "25%", "loss", "0.5%"]
        );
    }

    #[test]
    fn the_limit_grows_with_the_delay_and_never_overflows() {
        assert_eq!(limit(&delay(1)), MIN_LIMIT);
        assert_eq!(limit(&delay(2_000)), 2_000_000);
        assert_eq!(limit(&delay(u64::MAX / 2)), u32::MAX);
    }

    #[test]
    fn jolts_handle_is_major_4a4c() {
        assert_eq!(handle_text(JOLT_HANDLE), "4a4c:");
        assert_eq!(JOLT_HANDLE, 0x4a4c_0000);
    }

    #[test]
    fn the_root_qdisc_is_read_from_tc_json() {
        assert_eq!(root_qdisc("[]").unwrap(), None);
        let json = r#"[{"kind":"netem","handle":"4a4c:","root":true,"refcnt":2,"options":{}},
                       {"kind":"pfifo","handle":"0:","parent":"4a4c:1"}]"#;
        assert_eq!(
            root_qdisc(json).unwrap(),
            Some(("netem".into(), "4a4c:".into()))
        );
        assert!(root_qdisc("Error").is_err());
    }

    #[test]
    fn the_default_route_device_is_read_from_ip_json() {
        let json = r#"[{"dst":"default","gateway":"10.4.0.1","dev":"net1","flags":[]}]"#;
        assert_eq!(default_route_device(json).unwrap(), Some("net1".into()));
        assert_eq!(default_route_device("[]").unwrap(), None);
        assert!(default_route_device("Error").is_err());
    }

    #[test]
    fn a_missing_netem_is_recognised_from_the_kernels_message() {
        assert!(netem_missing("Error: Specified qdisc kind is unknown."));
        assert!(!netem_missing("Error: Exclusivity flag on, cannot modify."));
    }
}
