//! peers: what a network fault narrows its traffic to. Without peers a
//! network fault takes the whole interface; with them only the traffic to
//! (or from) those addresses, optionally only one protocol and port of
//! theirs.
//!
//! In the file: `peers: [10.1.0.0/16, 10.2.0.7, {name: db}, {labels:
//! {app: db}}]`, `port: 5432`, `protocol: tcp`. Addresses and CIDRs are
//! taken as written; containers named or selected by labels are resolved
//! to their addresses when the fault is staged ([`Peers::resolve`]), from
//! the addresses their network namespaces hold then.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde_json::Value;

use crate::fault::params::shown;
use crate::fault::Keys;

/// An address block: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl Cidr {
    /// `10.1.0.0/16`, `fd00::/8`, or a bare address (a /32 or /128).
    /// Host bits set below the prefix are refused: they usually mean a
    /// mistyped prefix.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => match l.trim().parse::<u8>() {
                Ok(l) if l <= max => l,
                _ => return Err(format!("{text:?}: the prefix length is not 0-{max}")),
            },
        };
        let cidr = Cidr { addr, len };
        if cidr.network() != addr {
            return Err(format!(
                "{text:?} has host bits set; the block is {}/{len}",
                cidr.network()
            ));
        }
        Ok(cidr)
    }

    /// The address with the host bits cleared.
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// One peer as the file names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Peer {
    Cidr(Cidr),
    /// A container by name (or id), resolved at staging.
    Name(String),
    /// Containers carrying all these labels, resolved at staging.
    Labels(BTreeMap<String, String>),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Cidr(c) if c.len == 32 || c.len == 128 => write!(f, "{}", c.addr),
            Peer::Cidr(c) => write!(f, "{c}"),
            Peer::Name(n) => write!(f, "{n}"),
            Peer::Labels(l) => {
                let pairs: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "{{{}}}", pairs.join(","))
            }
        }
    }
}

/// The transport protocol a peer filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }
}

/// The peers a network fault is narrowed to, with an optional port and
/// protocol of theirs; empty `list`: the whole interface.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Peers {
    pub list: Vec<Peer>,
    pub port: Option<u16>,
    pub protocol: Option<Protocol>,
}

/// What a peer selector resolves against: a running container's name, id,
/// labels and the addresses its network namespace holds.
#[derive(Debug, Clone)]
pub struct PeerCandidate {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub addresses: Vec<IpAddr>,
}

impl Peers {
    /// The keys a kind with peers takes.
    pub const KEYS: [&'static str; 3] = ["peers", "port", "protocol"];

    /// Reads `peers`, `port` and `protocol`; None after a problem.
    pub(crate) fn parse(keys: &mut Keys) -> Option<Peers> {
        let mut ok = true;
        let mut list = Vec::new();
        match keys.value("peers").cloned() {
            None => {}
            Some(Value::Array(items)) if items.is_empty() => {
                keys.problem(
                    "peers",
                    "empty; leave peers out to take the whole interface",
                );
                ok = false;
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match peer(item) {
                        Ok(p) => list.push(p),
                        Err(why) => {
                            keys.problem(&format!("peers[{i}]"), why);
                            ok = false;
                        }
                    }
                }
            }
            Some(other) => {
                keys.problem("peers", format!("expected a list, got {}", shown(&other)));
                ok = false;
            }
        }
        let port = keys.integer("port", 1..=65535).map(|p| p as u16);
        ok &= !(keys.has("port") && port.is_none());
        let protocols = [
            ("tcp", Some(Protocol::Tcp)),
            ("udp", Some(Protocol::Udp)),
            ("icmp", Some(Protocol::Icmp)),
        ];
        let protocol = keys.choice("protocol", &protocols, None).flatten();
        ok &= !(keys.has("protocol") && protocol.is_none());
        if port.is_some() && !matches!(protocol, Some(Protocol::Tcp | Protocol::Udp)) {
            keys.problem(
                "port",
                "needs protocol: tcp or udp (a port belongs to one of them)",
            );
            ok = false;
        }
        if (port.is_some() || protocol.is_some()) && list.is_empty() && ok {
            keys.problem(
                "peers",
                "required with port or protocol: the peers whose port it is",
            );
            ok = false;
        }
        ok.then_some(Peers {
            list,
            port,
            protocol,
        })
    }

    /// ` peers=10.0.0.2,db port=5432/tcp` for a fault's line; empty
    /// without peers.
    pub fn describe(&self) -> String {
        if self.list.is_empty() {
            return String::new();
        }
        let peers: Vec<String> = self.list.iter().map(Peer::to_string).collect();
        let mut s = format!(" peers={}", peers.join(","));
        match (self.port, self.protocol) {
            (Some(port), Some(p)) => s.push_str(&format!(" port={port}/{}", p.name())),
            (None, Some(p)) => s.push_str(&format!(" protocol={}", p.name())),
            _ => {}
        }
        s
    }

    /// Replaces every container peer with the addresses of the containers
    /// it names or selects among `running`; a selector that finds no
    /// address is an error that says so.
    pub fn resolve(&mut self, running: &[PeerCandidate]) -> Result<(), String> {
        let mut resolved = Vec::new();
        for peer in &self.list {
            let matched: Vec<&PeerCandidate> = match peer {
                Peer::Cidr(c) => {
                    resolved.push(Peer::Cidr(*c));
                    continue;
                }
                Peer::Name(n) => running
                    .iter()
                    .filter(|c| &c.name == n || &c.id == n)
                    .collect(),
                Peer::Labels(want) => running
                    .iter()
                    .filter(|c| want.iter().all(|(k, v)| c.labels.get(k) == Some(v)))
                    .collect(),
            };
            let addresses: Vec<IpAddr> = matched.iter().flat_map(|c| c.addresses.clone()).collect();
            if addresses.is_empty() {
                let why = match matched.is_empty() {
                    true => "matches no running container",
                    false => "matches only containers without an address of their own",
                };
                return Err(format!("peer {peer} {why}"));
            }
            for addr in addresses {
                let len = if addr.is_ipv4() { 32 } else { 128 };
                let cidr = Peer::Cidr(Cidr { addr, len });
                if !resolved.contains(&cidr) {
                    resolved.push(cidr);
                }
            }
        }
        self.list = resolved;
        Ok(())
    }

    /// The address blocks, once resolved; an unresolved container peer is
    /// an error naming it.
    pub fn cidrs(&self) -> Result<Vec<Cidr>, String> {
        self.list
            .iter()
            .map(|p| match p {
                Peer::Cidr(c) => Ok(*c),
                other => Err(format!("peer {other} was not resolved to addresses")),
            })
            .collect()
    }
}

/// One item of `peers`: an address or CIDR, `{cidr: ...}`, `{name: ...}`
/// or `{labels: {...}}`.
fn peer(item: &Value) -> Result<Peer, String> {
    let named = |s: &str| {
        format!("{s:?} is not an IP address or CIDR; name a container with {{name: {s}}}")
    };
    match item {
        Value::String(s) => Cidr::parse(s).map(Peer::Cidr).map_err(|_| named(s)),
        Value::Object(map) if map.len() == 1 => {
            let (key, value) = map.iter().next().expect("one entry");
            match (key.as_str(), value) {
                ("cidr", Value::String(s)) => Cidr::parse(s).map(Peer::Cidr),
                ("name", Value::String(s)) if !s.is_empty() => Ok(Peer::Name(s.clone())),
                ("labels", Value::Object(l)) if !l.is_empty() => l
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(v) => Ok((k.clone(), v.clone())),
                        other => Err(format!("label {k}: expected text, got {}", shown(other))),
                    })
                    .collect::<Result<_, _>>()
                    .map(Peer::Labels),
                ("cidr" | "name" | "labels", other) => {
                    Err(format!("{key}: unexpected {}", shown(other)))
                }
                _ => Err(format!(
                    "unknown key {key:?} (expected cidr, name or labels)"
                )),
            }
        }
        other => Err(format!(
            "expected an address, a CIDR, {{name: ...}} or {{labels: {{...}}}}, got {}",
            shown(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Problems;

    fn parse(json: &str) -> Result<Peers, Vec<String>> {
        let mut p = Problems::default();
        let map = serde_json::from_str(json).unwrap();
        let mut keys = Keys::new("fault".into(), "network-partition".into(), map, &mut p);
        let peers = Peers::parse(&mut keys);
        match peers {
            Some(peers) if p.0.is_empty() => Ok(peers),
            _ => Err(p.0.iter().map(|e| e.to_string()).collect()),
        }
    }

    #[test]
    fn cidrs_are_parsed_and_host_bits_refused() {
        assert_eq!(
            Cidr::parse("10.1.0.0/16").unwrap().to_string(),
            "10.1.0.0/16"
        );
        assert_eq!(Cidr::parse("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert_eq!(Cidr::parse("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(
            Cidr::parse("10.1.2.3/16").unwrap_err(),
            "\"10.1.2.3/16\" has host bits set; the block is 10.1.0.0/16"
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("0.0.0.0/0").is_ok());
    }

    #[test]
    fn peers_are_read_with_every_problem_at_its_path() {
        let peers = parse(r#"{"peers": ["10.0.0.2", {"name": "db"}, {"labels": {"app": "cache"}}], "port": 5432, "protocol": "tcp"}"#).unwrap();
        assert_eq!(
            peers.describe(),
            " peers=10.0.0.2,db,{app=cache} port=5432/tcp"
        );
        assert_eq!(
            parse(r#"{"peers": ["db", {"host": "x"}, 7], "port": 80}"#).unwrap_err(),
            [
                "fault.peers[0]: \"db\" is not an IP address or CIDR; name a container with {name: db}",
                "fault.peers[1]: unknown key \"host\" (expected cidr, name or labels)",
                "fault.peers[2]: expected an address, a CIDR, {name: ...} or {labels: {...}}, got 7",
                "fault.port: needs protocol: tcp or udp (a port belongs to one of them)",
            ]
        );
        assert_eq!(
            parse(r#"{"protocol": "udp"}"#).unwrap_err(),
            ["fault.peers: required with port or protocol: the peers whose port it is"]
        );
        assert_eq!(parse("{}").unwrap(), Peers::default());
    }

    #[test]
    fn container_peers_resolve_to_the_addresses_of_what_they_select() {
        let running = [
            PeerCandidate {
                id: "a1".into(),
                name: "db".into(),
                labels: [("app".to_string(), "db".to_string())].into(),
                addresses: vec!["10.88.0.5".parse().unwrap()],
            },
            PeerCandidate {
                id: "b2".into(),
                name: "db-2".into(),
                labels: [("app".to_string(), "db".to_string())].into(),
                addresses: vec!["10.88.0.6".parse().unwrap()],
            },
            PeerCandidate {
                id: "c3".into(),
                name: "hostnet".into(),
                labels: BTreeMap::new(),
                addresses: vec![],
            },
        ];
        let mut peers =
            parse(r#"{"peers": [{"labels": {"app": "db"}}, {"name": "db"}, "192.168.0.0/24"]}"#)
                .unwrap();
        peers.resolve(&running).unwrap();
        assert_eq!(
            peers.describe(),
            " peers=10.88.0.5,10.88.0.6,192.168.0.0/24"
        );
        assert_eq!(peers.cidrs().unwrap().len(), 3);
        let mut missing = parse(r#"{"peers": [{"name": "ghost"}]}"#).unwrap();
        assert_eq!(
            missing.resolve(&running).unwrap_err(),
            "peer ghost matches no running container"
        );
        assert!(missing.cidrs().is_err());
        let mut bare = parse(r#"{"peers": [{"name": "hostnet"}]}"#).unwrap();
        assert_eq!(
            bare.resolve(&running).unwrap_err(),
            "peer hostnet matches only containers without an address of their own"
        );
    }
}
