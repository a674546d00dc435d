//! conntrack: forgetting UDP flows of published ports. A UDP "connection"
//! that began before a port was published (or after it was withdrawn)
//! stays in the conntrack table with its old translation and keeps
//! steering packets past the new rules; deleting those entries when a
//! port is published or withdrawn fixes that.
//!
//! Owns deleting entries, through the `conntrack` tool (conntrack-tools),
//! in the namespace of the calling thread. TCP needs no flush: a new TCP
//! connection gets a new entry.

use std::process::Command;

use super::error::Error;
use super::ports::{PortMapping, Protocol};

/// Deletes the UDP entries whose original destination port is one of the
/// UDP `ports`' host ports. No entry is not an error.
pub(crate) fn flush_udp(container: &str, ports: &[PortMapping]) -> Result<(), Error> {
    for port in ports.iter().filter(|p| p.protocol == Protocol::Udp) {
        let what = || format!("container {container}: flushing conntrack entries of {port}");
        let mut cmd = Command::new("conntrack");
        cmd.args(["-D", "-p", "udp", "--orig-port-dst"])
            .arg(port.host_port.to_string());
        if let Some(ip) = port.host_ip {
            cmd.arg("--orig-dst").arg(ip.to_string());
        }
        let out = cmd.output().map_err(|e| Error::Firewall {
            what: what(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                "conntrack not found (apt-get install conntrack)".to_string()
            } else {
                e.to_string()
            },
        })?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // conntrack exits 1 when nothing matched: "0 flow entries".
        if !out.status.success() && !stderr.contains(" 0 flow entries") {
            return Err(Error::Firewall {
                what: what(),
                reason: stderr.trim().to_string(),
            });
        }
    }
    Ok(())
}
