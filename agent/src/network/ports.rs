//! ports: published ports, `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]`,
//! as users write them (`8080:80`, `127.0.0.1:5353:53/udp`).
//!
//! Owns parsing and validating one mapping and deciding when two mappings
//! claim the same host port. It does not know about containers or rules.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// The name nftables and conntrack use: `tcp` or `udp`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            other => Err(format!("unknown protocol {other:?} (tcp or udp)")),
        }
    }
}

/// One published port: traffic to `host_port` (on `host_ip`, or on any of
/// the node's addresses) goes to `container_port` in the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortMapping {
    /// A TCP mapping on every node address.
    pub fn tcp(host_port: u16, container_port: u16) -> PortMapping {
        PortMapping {
            host_ip: None,
            host_port,
            container_port,
            protocol: Protocol::Tcp,
        }
    }

    /// A UDP mapping on every node address.
    pub fn udp(host_port: u16, container_port: u16) -> PortMapping {
        PortMapping {
            protocol: Protocol::Udp,
            ..PortMapping::tcp(host_port, container_port)
        }
    }

    /// Why this mapping cannot be used, if it cannot (a zero port).
    pub fn check(&self) -> Result<(), String> {
        if self.host_port == 0 || self.container_port == 0 {
            return Err(format!("port mapping {self}: ports must be 1-65535"));
        }
        Ok(())
    }

    /// Whether `self` and `other` claim the same host port: same protocol
    /// and port, and the same host address or either on every address.
    pub fn clashes_with(&self, other: &PortMapping) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && match (self.host_ip, other.host_ip) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port,
            self.container_port,
            self.protocol.name()
        )
    }
}

impl FromStr for PortMapping {
    type Err = String;

    /// `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]`, TCP by default.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: String| format!("port mapping {s:?}: {why}");
        let (ports, protocol) = match s.rsplit_once('/') {
            Some((ports, proto)) => (ports, proto.parse().map_err(bad)?),
            None => (s, Protocol::Tcp),
        };
        if ports.starts_with('[') {
            return Err(bad(
                "IPv6 host addresses are not supported (IPv4 only)".into()
            ));
        }
        let parts: Vec<&str> = ports.split(':').collect();
        let (host_ip, host_port, container_port) = match parts.as_slice() {
            [h, c] => (None, *h, *c),
            [ip, h, c] => {
                let ip = ip
                    .parse::<Ipv4Addr>()
                    .map_err(|_| bad(format!("{ip:?} is not an IPv4 address")))?;
                (Some(ip), *h, *c)
            }
            _ => {
                return Err(bad(
                    "expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]".into(),
                ))
            }
        };
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|&n| n != 0)
                .ok_or_else(|| bad(format!("port {p:?} is out of range (1-65535)")))
        };
        Ok(PortMapping {
            host_ip,
            host_port: port(host_port)?,
            container_port: port(container_port)?,
            protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_users_write() {
        assert_eq!("8080:80".parse(), Ok(PortMapping::tcp(8080, 80)));
        assert_eq!("5353:53/udp".parse(), Ok(PortMapping::udp(5353, 53)));
        let m: PortMapping = "127.0.0.1:8080:80/tcp".parse().unwrap();
        assert_eq!(m.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(m.to_string(), "127.0.0.1:8080:80/tcp");
    }

    #[test]
    fn refuses_bad_ports_and_protocols_naming_them() {
        let err = |s: &str| s.parse::<PortMapping>().unwrap_err();
        assert!(err("70000:80").contains("\"70000\" is out of range"));
        assert!(err("0:80").contains("out of range"));
        assert!(err("80:0").contains("out of range"));
        assert!(err("8080:80/sctp").contains("unknown protocol \"sctp\""));
        assert!(err("8080").contains("expected"));
        assert!(err("x.y:1:2").contains("not an IPv4 address"));
        assert!(err("[::1]:1:2").contains("IPv6 host addresses are not supported"));
        assert!(PortMapping::tcp(0, 80).check().is_err());
    }

    #[test]
    fn a_host_port_clashes_per_protocol_and_address() {
        let any = PortMapping::tcp(8080, 80);
        let local: PortMapping = "127.0.0.1:8080:81".parse().unwrap();
        let other: PortMapping = "10.0.0.1:8080:81".parse().unwrap();
        assert!(any.clashes_with(&PortMapping::tcp(8080, 9000)));
        assert!(any.clashes_with(&local));
        assert!(!local.clashes_with(&other));
        assert!(!any.clashes_with(&PortMapping::udp(8080, 80)));
        assert!(!any.clashes_with(&PortMapping::tcp(8081, 80)));
    }
}
