//! network-partition: traffic between the container and its peers dropped,
//! in one direction or both, by nftables rules in the container's network
//! namespace, under a table of jolt's own (`inet jolt_partition`). Nothing
//! else on the node is touched, and revert deletes exactly that table.
//!
//! The table is made with nft's `create` (exclusive), so a partition that
//! is already there (another experiment's) makes the add fail rather than
//! be merged into. Rules go in as one `nft -j` batch, one transaction:
//! either the whole partition is in force or none of it. Without peers the
//! container is cut off from everything but its loopback.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::peers::{Cidr, Peers, Protocol};
use super::{run_in_with_input, stderr, tool_error, Place};
use crate::experiment::human;
use crate::fault::{mismatch, refused, FaultError, Keys, Kind, Reverted, Undo};
use crate::target::Target;

/// jolt's table, in the container's network namespace.
pub(super) const TABLE: &str = "jolt_partition";

/// Which traffic a partition drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the container sends to its peers.
    To,
    /// What its peers send to it.
    From,
    Both,
}

/// network-partition's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPartition {
    pub direction: Direction,
    pub peers: Peers,
    pub duration: Duration,
}

impl NetworkPartition {
    /// The nft batch that makes the partition (pure; `peers` resolved).
    fn batch(&self) -> Result<Value, String> {
        let cidrs = self.peers.cidrs()?;
        let mut cmds = vec![json!({"create": {"table": {"family": "inet", "name": TABLE}}})];
        let hooks = match self.direction {
            Direction::To => vec![("output", "daddr", "dport")],
            Direction::From => vec![("input", "saddr", "sport")],
            Direction::Both => vec![("output", "daddr", "dport"), ("input", "saddr", "sport")],
        };
        for (hook, addr_field, port_field) in hooks {
            cmds.push(json!({"add": {"chain": {
                "family": "inet", "table": TABLE, "name": hook,
                "type": "filter", "hook": hook, "prio": 0, "policy": "accept"
            }}}));
            let l4 = l4_matches(self.peers.protocol, self.peers.port, port_field);
            let mut add_rule = |mut expr: Vec<Value>| {
                expr.extend(l4.iter().cloned());
                expr.push(json!({"drop": null}));
                cmds.push(json!({"add": {"rule": {
                    "family": "inet", "table": TABLE, "chain": hook, "expr": expr
                }}}));
            };
            if cidrs.is_empty() {
                // Everything but loopback.
                add_rule(vec![json!({"match": {"op": "!=",
                    "left": {"meta": {"key": if hook == "output" { "oifname" } else { "iifname" }}},
                    "right": "lo"}})]);
            }
            for cidr in &cidrs {
                add_rule(vec![address_match(cidr, addr_field)]);
            }
        }
        Ok(json!({"nftables": cmds}))
    }
}

/// `ip daddr 10.0.0.0/8` (or ip6) in nft's JSON.
pub(super) fn address_match(cidr: &Cidr, field: &str) -> Value {
    let protocol = if cidr.addr.is_ipv4() { "ip" } else { "ip6" };
    json!({"match": {"op": "==",
        "left": {"payload": {"protocol": protocol, "field": field}},
        "right": {"prefix": {"addr": cidr.addr.to_string(), "len": cidr.len}}}})
}

/// The protocol and port matches, the port being the peer's.
pub(super) fn l4_matches(protocol: Option<Protocol>, port: Option<u16>, field: &str) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(p) = protocol {
        let l4 = match p {
            Protocol::Icmp => json!({"set": ["icmp", "ipv6-icmp"]}),
            other => json!(other.name()),
        };
        out.push(json!({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": l4}}));
    }
    if let (Some(p), Some(port)) = (protocol, port) {
        out.push(json!({"match": {"op": "==",
            "left": {"payload": {"protocol": p.name(), "field": field}}, "right": port}}));
    }
    out
}

impl Kind for NetworkPartition {
    const NAME: &'static str = "network-partition";
    const KEYS: &'static [&'static str] = &["direction", "peers", "port", "protocol", "duration"];
    const HOLDS: Option<&'static str> = Some("the netns' jolt_partition nftables table");

    fn parse(keys: &mut Keys) -> Option<Self> {
        let directions = [
            ("to", Direction::To),
            ("from", Direction::From),
            ("both", Direction::Both),
        ];
        let direction = keys.choice("direction", &directions, Direction::Both);
        let peers = Peers::parse(keys);
        let duration = keys.lasting("the partition holds");
        Some(NetworkPartition {
            direction: direction?,
            peers: peers?,
            duration: duration?,
        })
    }

    fn duration(&self) -> Option<Duration> {
        Some(self.duration)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = match self.direction {
            Direction::To => "to",
            Direction::From => "from",
            Direction::Both => "both",
        };
        write!(
            f,
            "network-partition direction={direction}{} for {}",
            self.peers.describe(),
            human(self.duration)
        )
    }

    peers_in_field!();

    fn prepare(&self, target: &Target) -> Result<Undo, FaultError> {
        self.batch().map_err(|why| refused::<Self>(target, why))?;
        let place = Place::of(target, Self::NAME)?;
        match table_exists(&place.netns) {
            Ok(false) => Ok(Undo::NftTable {
                netns: place.netns,
                table: TABLE.to_string(),
            }),
            Ok(true) => Err(refused::<Self>(
                target,
                format!("its network namespace already has jolt's table inet {TABLE} (a partition is active)"),
            )),
            Err((what, result)) => Err(tool_error(&place.context, what, result)),
        }
    }

    fn apply(&self, target: &Target, undo: &Undo) -> Result<(), FaultError> {
        let Undo::NftTable { netns, .. } = undo else {
            return Err(mismatch::<Self>(target, undo));
        };
        let batch = self.batch().map_err(|why| refused::<Self>(target, why))?;
        let args = ["-j", "-f", "-"].map(String::from);
        let context = format!(
            "container {}: {}: in {}",
            target.name,
            Self::NAME,
            netns.display()
        );
        match run_in_with_input(netns, "nft", &args, Some(&batch.to_string())) {
            Ok(out) if out.status.success() => Ok(()),
            other => Err(tool_error(&context, "nft -j -f -".into(), other)),
        }
    }
}

/// Whether jolt's table is in the netns; Err: the listing failed.
fn table_exists(netns: &Path) -> Result<bool, (String, std::io::Result<std::process::Output>)> {
    let args = ["list", "table", "inet", TABLE].map(String::from);
    match run_in_with_input(netns, "nft", &args, None) {
        Ok(out) if out.status.success() => Ok(true),
        Ok(out) if stderr(&out).contains("No such file or directory") => Ok(false),
        other => Err((format!("nft list table inet {TABLE}"), other)),
    }
}

/// Deletes the table from the netns, if it is still there.
pub(crate) fn revert(netns: &Path, table: &str) -> Result<Reverted, FaultError> {
    let context = format!("revert: in {}", netns.display());
    let args = ["delete", "table", "inet", table].map(String::from);
    match run_in_with_input(netns, "nft", &args, None) {
        Ok(out) if out.status.success() => Ok(Reverted::Done),
        Ok(out) if stderr(&out).contains("No such file or directory") => Ok(Reverted::AlreadyClean),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !netns.exists() => {
            Ok(Reverted::TargetGone)
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(Reverted::TargetGone),
        other => Err(tool_error(
            &context,
            format!("nft delete table inet {table}"),
            other,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::network::peers::Peer;

    fn partition(
        direction: Direction,
        peers: Vec<Peer>,
        port: Option<u16>,
        protocol: Option<Protocol>,
    ) -> NetworkPartition {
        NetworkPartition {
            direction,
            peers: Peers {
                list: peers,
                port,
                protocol,
            },
            duration: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_batch_creates_jolts_table_and_drops_towards_each_peer() {
        let p = partition(
            Direction::To,
            vec![Peer::Cidr(Cidr::parse("10.0.0.2").unwrap())],
            Some(80),
            Some(Protocol::Tcp),
        );
        let batch = p.batch().unwrap();
        let cmds = batch["nftables"].as_array().unwrap();
        assert_eq!(
            cmds[0],
            json!({"create": {"table": {"family": "inet", "name": "jolt_partition"}}})
        );
        assert_eq!(cmds[1]["add"]["chain"]["hook"], "output");
        let expr = &cmds[2]["add"]["rule"]["expr"];
        assert_eq!(expr[0]["match"]["left"]["payload"]["field"], "daddr");
        assert_eq!(expr[0]["match"]["right"]["prefix"]["len"], 32);
        assert_eq!(expr[1]["match"]["right"], "tcp");
        assert_eq!(expr[2]["match"]["left"]["payload"]["field"], "dport");
        assert_eq!(expr[2]["match"]["right"], 80);
        assert_eq!(expr[3], json!({"drop": null}));
        assert_eq!(cmds.len(), 3);
    }

    #[test]
    fn both_directions_make_two_chains_and_no_peers_cut_all_but_loopback() {
        let p = partition(Direction::Both, vec![], None, None);
        let batch = p.batch().unwrap();
        let cmds = batch["nftables"].as_array().unwrap();
        let hooks: Vec<&str> = cmds
            .iter()
            .filter_map(|c| c["add"]["chain"]["hook"].as_str())
            .collect();
        assert_eq!(hooks, ["output", "input"]);
        assert_eq!(cmds[2]["add"]["rule"]["expr"][0]["match"]["right"], "lo");
        assert_eq!(
            cmds[4]["add"]["rule"]["expr"][0]["match"]["left"]["meta"]["key"],
            "iifname"
        );
    }

    #[test]
    fn an_unresolved_container_peer_never_reaches_nft() {
        let p = partition(Direction::Both, vec![Peer::Name("db".into())], None, None);
        assert_eq!(
            p.batch().unwrap_err(),
            "peer db was not resolved to addresses"
        );
    }
}
