//! qdisc: the root qdisc jolt puts on a container's interface, which every
//! qdisc fault (netem's kinds, bandwidth) uses, and its undo.
//!
//! Ownership: the qdisc carries jolt's own handle, major
//! [`JOLT_QDISC_MAJOR`] (0x4a4c, "JL" in ASCII), shown by `tc qdisc show`
//! as `netem 4a4c:`. jolt adds it only over the kernel's default root
//! qdisc (handle `0:`), refuses an interface whose root qdisc someone else
//! made, and on revert deletes the root qdisc only while it has jolt's
//! handle. The add uses `tc qdisc add` (exclusive), never `replace`, so a
//! foreign qdisc that appears between prepare and apply makes the add fail
//! instead of being overwritten.
//!
//! Without peers the fault's qdisc (netem, tbf) is the root. With peers
//! ([`Peers`]) the root is an htb with jolt's handle whose default class
//! `4a4c:1` passes everything unshaped, a class `4a4c:2` holds the fault's
//! qdisc (handle `4a4d:`), and u32 filters send only the peers' traffic
//! there (their addresses, and the port and protocol when given). htb
//! rather than prio because kernels without sch_prio exist (this
//! development host is one); the whole tree goes in with one `tc -batch`,
//! and deleting the root removes all of it.

use std::io;
use std::path::Path;
use std::process::Output;

use super::peers::{Cidr, Peers, Protocol};
use super::{run_in, run_in_with_input, stderr, tool_error, Place};
use crate::fault::{mismatched, FaultError, Reverted, Undo};
use crate::target::Target;

/// The major number of every qdisc handle jolt creates: 0x4a4c, "JL".
pub const JOLT_QDISC_MAJOR: u16 = 0x4a4c;
/// jolt's qdisc handle as the kernel stores it (major << 16, minor 0).
pub(super) const JOLT_HANDLE: u32 = (JOLT_QDISC_MAJOR as u32) << 16;

/// The tc handle text of a 32-bit handle: `4a4c:` for major 0x4a4c.
pub(super) fn handle_text(handle: u32) -> String {
    format!("{:x}:", handle >> 16)
}

fn tc_in(netns: &Path, args: &[String]) -> io::Result<Output> {
    run_in(netns, "tc", args)
}

fn no_device(out: &Output) -> bool {
    stderr(out).contains("Cannot find device")
}

/// The root qdisc's kind and handle (`0:` for the kernel's default).
pub(super) fn root_qdisc(json: &str) -> Result<Option<(String, String)>, String> {
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

/// Finds the interface `fault` acts on and checks that its root qdisc is
/// the kernel's default; the undo deletes jolt's root qdisc there.
pub(super) fn prepare(target: &Target, fault: &'static str) -> Result<Undo, FaultError> {
    let place = Place::of(target, fault)?;
    let refuse = |reason: String| FaultError::Refused {
        container: target.name.clone(),
        fault,
        reason,
    };
    let interface = &place.interface;
    match show(&place.netns, interface) {
        Err((what, result)) => Err(tool_error(&place.context, what, result)),
        Ok(Shown::NoDevice) => Err(refuse(format!(
            "no interface {interface} in its network namespace {}",
            place.netns.display()
        ))),
        Ok(Shown::Root(Some((kind, handle)))) if handle == handle_text(JOLT_HANDLE) => {
            Err(refuse(format!(
                "{interface} already has jolt's {kind} qdisc {handle} (a network fault is active)"
            )))
        }
        Ok(Shown::Root(Some((kind, handle)))) if handle != "0:" => Err(refuse(format!(
            "{interface} has a root qdisc jolt did not create ({kind} {handle}); jolt leaves it alone"
        ))),
        Ok(Shown::Root(_)) => Ok(Undo::Qdisc {
            netns: place.netns,
            interface: interface.clone(),
            handle: JOLT_HANDLE,
        }),
    }
}

/// Whether tc's failure to add a `qdisc` means the kernel has none: the
/// kernel's extended ack says the kind is unknown; older tc prints only
/// ENOENT, which for an add means the same when the module is not loaded.
pub(super) fn qdisc_missing(err: &str, qdisc: &str) -> bool {
    err.contains("qdisc kind is unknown")
        || (err.contains("No such file or directory")
            && !Path::new(&format!("/sys/module/sch_{qdisc}")).exists())
}

/// The rate of htb classes that do not shape: far above any interface.
const UNSHAPED: &str = "100gbit";
/// htb's quantum for those classes (bytes per round); without it htb
/// derives one from the rate, warns that it is too big, and clamps it.
const QUANTUM: &str = "60000";

/// The tc commands (one per line of `tc -batch`) that put `leaf` (a
/// qdisc's kind and parameters) on `interface` at `handle`: as the root
/// without peers, under jolt's htb with filters for the peers' traffic
/// otherwise (see the module doc). Pure; the peers must be resolved.
pub(super) fn tree(
    interface: &str,
    handle: u32,
    leaf: &[String],
    peers: &Peers,
) -> Result<Vec<Vec<String>>, String> {
    let root = handle_text(handle);
    let words = |w: &[&str]| -> Vec<String> { w.iter().map(|s| s.to_string()).collect() };
    if peers.list.is_empty() {
        let mut cmd = words(&["qdisc", "add", "dev", interface, "root", "handle", &root]);
        cmd.extend(leaf.iter().cloned());
        return Ok(vec![cmd]);
    }
    let major = handle >> 16;
    let class = |minor: u32| format!("{major:x}:{minor:x}");
    let leaf_handle = format!("{:x}:", major + 1);
    let unshaped = |minor: u32| {
        let classid = class(minor);
        words(&[
            "class", "add", "dev", interface, "parent", &root, "classid", &classid, "htb", "rate",
            UNSHAPED, "quantum", QUANTUM,
        ])
    };
    let mut cmds = vec![
        words(&[
            "qdisc", "add", "dev", interface, "root", "handle", &root, "htb", "default", "1",
        ]),
        unshaped(1),
        unshaped(2),
    ];
    let mut leaf_cmd = words(&[
        "qdisc",
        "add",
        "dev",
        interface,
        "parent",
        &class(2),
        "handle",
        &leaf_handle,
    ]);
    leaf_cmd.extend(leaf.iter().cloned());
    cmds.push(leaf_cmd);
    for cidr in peers.cidrs()? {
        let (protocol, prio, family) = match cidr.addr.is_ipv4() {
            true => ("ip", "1", "ip"),
            false => ("ipv6", "2", "ip6"),
        };
        let mut cmd = words(&[
            "filter", "add", "dev", interface, "parent", &root, "protocol", protocol, "prio", prio,
            "u32",
        ]);
        cmd.extend(u32_matches(family, &cidr, peers.protocol, peers.port));
        cmd.extend(words(&["flowid", &class(2)]));
        cmds.push(cmd);
    }
    Ok(cmds)
}

/// `match ip dst 10.0.0.0/8 match ip protocol 6 0xff match ip dport 80
/// 0xffff`, for the traffic the container sends to a peer.
fn u32_matches(
    family: &str,
    cidr: &Cidr,
    protocol: Option<Protocol>,
    port: Option<u16>,
) -> Vec<String> {
    let mut m = vec![
        "match".to_string(),
        family.to_string(),
        "dst".to_string(),
        cidr.to_string(),
    ];
    if let Some(p) = protocol {
        let number = match (p, family) {
            (Protocol::Tcp, _) => 6,
            (Protocol::Udp, _) => 17,
            (Protocol::Icmp, "ip") => 1,
            (Protocol::Icmp, _) => 58,
        };
        m.extend(["match", family, "protocol", &number.to_string(), "0xff"].map(String::from));
    }
    if let Some(port) = port {
        m.extend(["match", family, "dport", &port.to_string(), "0xffff"].map(String::from));
    }
    m
}

/// Adds jolt's qdisc tree as `undo` describes: `leaf` (the fault's qdisc
/// kind and parameters, e.g. `["netem", "delay", "100000us"]`) for the
/// whole interface, or for the traffic to `peers` (see [`tree`]).
pub(super) fn add(
    fault: &'static str,
    target: &Target,
    undo: &Undo,
    leaf: Vec<String>,
    peers: &Peers,
) -> Result<(), FaultError> {
    let Undo::Qdisc {
        netns,
        interface,
        handle,
    } = undo
    else {
        return Err(mismatched(target, fault, undo));
    };
    let kind = leaf.first().cloned().unwrap_or_default();
    let context = format!("container {}: {fault}: in {}", target.name, netns.display());
    let cmds = tree(interface, *handle, &leaf, peers).map_err(|reason| FaultError::Refused {
        container: target.name.clone(),
        fault,
        reason,
    })?;
    let batch: String = cmds.iter().map(|c| c.join(" ") + "\n").collect();
    let args = ["-batch", "-"].map(String::from);
    match run_in_with_input(netns, "tc", &args, Some(&batch)) {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) if qdisc_missing(&stderr(&out), &kind) => Err(FaultError::QdiscMissing {
            container: target.name.clone(),
            fault,
            qdisc: kind,
        }),
        other => Err(tool_error(
            &context,
            format!("tc -batch: {}", batch.trim_end().replace('\n', "; ")),
            other,
        )),
    }
}

/// Deletes jolt's root qdisc from the interface, if it is still there.
pub(crate) fn revert(netns: &Path, interface: &str, handle: u32) -> Result<Reverted, FaultError> {
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
        Err((what, result)) => return Err(tool_error(&context, what, result)),
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
        other => Err(tool_error(
            &context,
            format!("tc {}", args.join(" ")),
            other,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn without_peers_the_leaf_is_the_root_and_with_them_an_htb_sends_them_to_it() {
        let leaf: Vec<String> = ["netem", "loss", "5%"].map(String::from).into();
        let lines = |peers: &Peers| -> Vec<String> {
            tree("eth0", JOLT_HANDLE, &leaf, peers)
                .unwrap()
                .iter()
                .map(|c| c.join(" "))
                .collect()
        };
        assert_eq!(
            lines(&Peers::default()),
            ["qdisc add dev eth0 root handle 4a4c: netem loss 5%"]
        );
        let peers = Peers {
            list: vec![
                super::super::peers::Peer::Cidr(Cidr::parse("10.0.0.0/24").unwrap()),
                super::super::peers::Peer::Cidr(Cidr::parse("fd00::7").unwrap()),
            ],
            port: Some(5432),
            protocol: Some(Protocol::Tcp),
        };
        assert_eq!(
            lines(&peers),
            [
                "qdisc add dev eth0 root handle 4a4c: htb default 1",
                "class add dev eth0 parent 4a4c: classid 4a4c:1 htb rate 100gbit quantum 60000",
                "class add dev eth0 parent 4a4c: classid 4a4c:2 htb rate 100gbit quantum 60000",
                "qdisc add dev eth0 parent 4a4c:2 handle 4a4d: netem loss 5%",
                "filter add dev eth0 parent 4a4c: protocol ip prio 1 u32 match ip dst 10.0.0.0/24 match ip protocol 6 0xff match ip dport 5432 0xffff flowid 4a4c:2",
                "filter add dev eth0 parent 4a4c: protocol ipv6 prio 2 u32 match ip6 dst fd00::7/128 match ip6 protocol 6 0xff match ip6 dport 5432 0xffff flowid 4a4c:2",
            ]
        );
    }

    #[test]
    fn a_missing_qdisc_is_recognised_from_the_kernels_message() {
        assert!(qdisc_missing(
            "Error: Specified qdisc kind is unknown.",
            "netem"
        ));
        assert!(!qdisc_missing(
            "Error: Exclusivity flag on, cannot modify.",
            "netem"
        ));
    }
}
