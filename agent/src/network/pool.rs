//! pool: the subnet a network takes when joltd is given none. Chosen once,
//! at the network's first start, from [`POOL`] — the first block that
//! overlaps no route of the node — and remembered in
//! `<state_dir>/networks/<name>/subnet`, so that it stays the same across
//! restarts (containers keep their addresses) even once something else
//! takes a route beside it. 10.88.0.0/16, podman's default, is not in the
//! pool: a node where podman has run has a route there (as Docker's
//! default address pools and netavark skip what is taken).

use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::error::Error;
use super::ipam::Subnet;
use super::{bridge, netns};

/// The blocks a network's subnet is picked from, in order: 10.90.0.0/16
/// to 10.127.0.0/16, then 172.20.0.0/16 to 172.31.0.0/16.
pub fn pool() -> impl Iterator<Item = Subnet> {
    let tens = (90..=127).map(|b| Ipv4Addr::new(10, b, 0, 0));
    let one_seventy_twos = (20..=31).map(|b| Ipv4Addr::new(172, b, 0, 0));
    tens.chain(one_seventy_twos)
        .map(|a| Subnet::new(a, 16).expect("a /16 of the pool"))
}

/// The first block of the pool that overlaps none of `routes`
/// (destination and prefix length; the default route never counts).
pub fn pick(routes: &[(Ipv4Addr, u8)]) -> Option<Subnet> {
    pool().find(|s| {
        !routes
            .iter()
            .any(|(dest, len)| *len > 0 && s.overlaps_prefix(*dest, *len))
    })
}

/// How a network's subnet came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// Read back from the file of an earlier start.
    Remembered,
    /// Picked from the pool now, and written down.
    Picked,
}

fn file(state_dir: &Path, network: &str) -> PathBuf {
    state_dir.join("networks").join(network).join("subnet")
}

/// The subnet of network `network` when joltd names none: the one
/// remembered under `state_dir`, else the first block of the pool that no
/// route of the node's namespace (`node_netns`, None: this process's)
/// overlaps but those through the network's own `bridge`, written down
/// before it is used.
pub fn default_subnet(
    state_dir: &Path,
    network: &str,
    bridge_name: &str,
    node_netns: Option<&Path>,
) -> Result<(Subnet, Chosen), Error> {
    let path = file(state_dir, network);
    let bad = |reason: String| Error::State {
        what: format!("reading {}", path.display()),
        reason,
    };
    match fs::read_to_string(&path) {
        Ok(text) => {
            let subnet = text
                .trim()
                .parse()
                .map_err(|e| bad(format!("{e} (remove the file to pick again)")))?;
            return Ok((subnet, Chosen::Remembered));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("reading {}", path.display()))(e)),
    }
    let routes = netns::netlink(node_netns, |h| async move {
        let own = bridge::find(&h, bridge_name).await?;
        bridge::routes(&h, network, own.map(|b| b.header.index)).await
    })?;
    let subnet = pick(&routes).ok_or_else(|| Error::Config {
        network: network.to_string(),
        reason: "every block of the subnet pool (10.90-127.0.0/16, 172.20-31.0.0/16) overlaps a route of the node; give --subnet".into(),
    })?;
    write(&path, &subnet.to_string()).map_err(Error::io(format!("writing {}", path.display())))?;
    Ok((subnet, Chosen::Picked))
}

/// Writes `text` to `path` durably, its directory made when missing.
fn write(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    jolt_runtime::durable::write(path, format!("{text}\n").as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_free_block_is_picked_and_podmans_default_is_not_in_the_pool() {
        assert_eq!(pick(&[]).unwrap().to_string(), "10.90.0.0/16");
        assert!(pool().all(|s| !s.overlaps_prefix(ip("10.88.0.0"), 16)));
        let taken = [
            (ip("10.88.0.0"), 16),
            (ip("10.90.3.0"), 24),
            (ip("10.91.0.0"), 16),
        ];
        assert_eq!(pick(&taken).unwrap().to_string(), "10.92.0.0/16");
        assert_eq!(
            pick(&[(ip("0.0.0.0"), 0)]).unwrap().to_string(),
            "10.90.0.0/16",
            "the default route does not count"
        );
        assert_eq!(
            pick(&[(ip("10.0.0.0"), 8)]).unwrap().to_string(),
            "172.20.0.0/16"
        );
        assert_eq!(pick(&[(ip("10.0.0.0"), 8), (ip("172.16.0.0"), 12)]), None);
    }

    #[test]
    fn a_remembered_subnet_is_read_back_and_a_bad_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = file(tmp.path(), "jolt0");
        write(&path, "10.93.0.0/16").unwrap();
        let (s, how) = default_subnet(tmp.path(), "jolt0", "jolt0", None).unwrap();
        assert_eq!(
            (s.to_string(), how),
            ("10.93.0.0/16".to_string(), Chosen::Remembered)
        );
        fs::write(&path, "10.93.0.1/16\n").unwrap();
        let err = default_subnet(tmp.path(), "jolt0", "jolt0", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("remove the file to pick again"), "{err}");
    }
}
