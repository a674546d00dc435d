//! network: the faults that act on a container's traffic, all made inside
//! its network namespace and nowhere else on the node. The namespace is
//! the target's netns file; the interface is the target's, or, when it
//! names none (a container joltd did not wire), the one that holds the
//! namespace's default route (`ip -j route show default`, IPv4 first).
//!
//! Mechanism: iproute2's `tc` and `ip` run with Command and a pre_exec
//! hook that setns(2)s the child into the container's netns file (our
//! netns files are not under /run/netns, so `ip netns exec` cannot name
//! them). No thread of the caller ever enters the netns. tc rather than
//! netlink-packet-route because that crate does not model netem's
//! TCA_OPTIONS (a struct tc_netem_qopt followed by nested attributes);
//! iproute2 is netem's reference encoder, and its stderr carries the
//! kernel's extended ack text into our errors. These calls block for a few
//! milliseconds while the tool runs.
//!
//! qdisc.rs owns jolt's root qdisc (the undo of every qdisc fault) and
//! the tree that narrows one to peers, peers.rs the peers, netem.rs the
//! netem parameters the netem kinds share, nfqueue.rs delay and loss in
//! userspace where sch_netem is missing (backend.rs picks), probe.rs what
//! the kernel has; each kind is one file.

/// The [`crate::fault::Kind`] accessors of a kind whose parameters hold
/// its peers in a field `peers`.
macro_rules! peers_in_field {
    () => {
        fn peers(&self) -> Option<&Peers> {
            Some(&self.peers)
        }

        fn peers_mut(&mut self) -> Option<&mut Peers> {
            Some(&mut self.peers)
        }
    };
}

/// The rest of a [`crate::fault::Kind`] whose fault is one qdisc (from
/// its `qdisc()` method) on jolt's root, narrowed to its `peers`.
macro_rules! qdisc_fault {
    () => {
        fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
            qdisc::prepare(target, Self::NAME)
        }

        fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
            qdisc::add(Self::NAME, target, undo, self.qdisc(), &self.peers)
        }

        peers_in_field!();
    };
}

mod backend;
mod bandwidth;
mod corrupt;
mod delay;
mod duplicate;
mod loss;
mod netem;
mod nfqueue;
mod partition;
mod peers;
mod probe;
mod qdisc;
mod rate;
mod reorder;

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::FaultError;
use crate::target::Target;

pub use backend::Backend;
pub use bandwidth::NetworkBandwidth;
pub use corrupt::NetworkCorrupt;
pub use delay::NetworkDelay;
pub use duplicate::NetworkDuplicate;
pub use loss::NetworkLoss;
pub use netem::{Chance, Chanced};
pub(super) use nfqueue::revert as revert_queue;
pub use nfqueue::{kill_worker, Rules};
pub(super) use partition::revert as revert_table;
pub use partition::{Direction, NetworkPartition};
pub use peers::{Cidr, Peer, PeerCandidate, Peers, Protocol};
pub(super) use qdisc::revert;
pub use qdisc::JOLT_QDISC_MAJOR;
pub use rate::NetworkRate;
pub use reorder::NetworkReorder;

/// Runs `program` with `args` in the network namespace at `netns`, from a
/// child that setns'd into it before exec.
fn run_in(netns: &Path, program: &str, args: &[String]) -> io::Result<Output> {
    run_in_with_input(netns, program, args, None)
}

/// [`run_in`], writing `input` to the program's stdin.
fn run_in_with_input(
    netns: &Path,
    program: &str,
    args: &[String],
    input: Option<&str>,
) -> io::Result<Output> {
    let ns = File::open(netns)?;
    let fd = ns.as_raw_fd();
    let mut command = Command::new(program);
    command.args(args).env("LC_ALL", "C");
    command.stdin(match input {
        Some(_) => Stdio::piped(),
        None => Stdio::null(),
    });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: between fork and exec the hook only calls setns(2), which is
    // async-signal-safe, on an fd `ns` keeps open until output() returns.
    unsafe {
        command.pre_exec(move || match libc::setns(fd, libc::CLONE_NEWNET) {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        });
    }
    let output = command.spawn().and_then(|mut child| {
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            // A program that exits early closes its stdin: its stderr says why.
            let _ = stdin.write_all(text.as_bytes());
        }
        child.wait_with_output()
    });
    drop(ns);
    match output {
        Err(e) if e.kind() == io::ErrorKind::NotFound && Path::new(netns).exists() => {
            let package = if program == "nft" {
                "nftables"
            } else {
                "iproute2"
            };
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{program} not found in PATH (install {package})"),
            ))
        }
        other => other,
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// The error for a tool run that failed: its stderr, or why it did not run.
fn tool_error(context: &str, what: String, result: io::Result<Output>) -> FaultError {
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
            other => return Err(tool_error(context, what, other)),
        }
    }
    Ok(Err(format!(
        "no default route in its network namespace {}, so no interface to act on (give the container a network with a default route)",
        netns.display()
    )))
}

/// The addresses (global scope, any interface but loopback) that the
/// network namespace at `netns` holds: how a container named as a peer is
/// found on the network.
pub fn addresses(netns: &Path) -> io::Result<Vec<std::net::IpAddr>> {
    let args: Vec<String> = ["-j", "addr", "show", "scope", "global"]
        .map(String::from)
        .into();
    let out = run_in(netns, "ip", &args)?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            stderr(&out)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(parse_addresses(&text))
}

/// The `local` addresses in `ip -j addr` output.
fn parse_addresses(json: &str) -> Vec<std::net::IpAddr> {
    let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
    list.iter()
        .filter(|link| link["ifname"] != "lo")
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["local"].as_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// Where a network fault of kind `fault` acts on `target`: its netns file
/// and interface, with the context its errors start with.
struct Place {
    netns: PathBuf,
    interface: String,
    context: String,
}

impl Place {
    fn of(target: &Target, fault: &'static str) -> Result<Place, FaultError> {
        let refuse = |reason: String| FaultError::Refused {
            container: target.name.clone(),
            fault,
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
        let context = format!("container {}: {fault}: in {}", target.name, netns.display());
        let interface = match &target.interface {
            Some(name) => name.clone(),
            None => default_interface(netns, &context)?.map_err(refuse)?,
        };
        Ok(Place {
            netns: netns.clone(),
            interface,
            context,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_ip_json_without_loopback() {
        let json = r#"[{"ifname":"lo","addr_info":[{"local":"127.0.0.1"}]},
            {"ifname":"eth0","addr_info":[{"family":"inet","local":"10.88.0.5","prefixlen":16},
                                          {"family":"inet6","local":"fd00::5","prefixlen":64}]}]"#;
        let got: Vec<String> = parse_addresses(json)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(got, ["10.88.0.5", "fd00::5"]);
        assert!(parse_addresses("").is_empty());
    }

    #[test]
    fn the_default_route_device_is_read_from_ip_json() {
        let json = r#"[{"dst":"default","gateway":"10.4.0.1","dev":"net1","flags":[]}]"#;
        assert_eq!(default_route_device(json).unwrap(), Some("net1".into()));
        assert_eq!(default_route_device("[]").unwrap(), None);
        assert!(default_route_device("Error").is_err());
    }
}
