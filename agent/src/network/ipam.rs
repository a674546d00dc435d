//! ipam: the addresses a network hands out, as leases kept in a file
//! under the state directory (`<state>/networks/<name>/leases.json`), so
//! they survive a restart of the agent.
//!
//! Owns the subnet arithmetic, the allocation policy (the next free address
//! after the last one handed out, so a released address is not reused at
//! once; a static address on request), the published ports recorded with
//! each lease (so a second container cannot claim a host port), and the
//! lock (`flock` on `<state>/networks/<name>/lock`) that makes concurrent
//! allocations from separate processes safe. It touches no interface.
//! A change that does not grow the file (a release) is written even on a
//! full disk, so a container can always be torn down.

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::ports::PortMapping;

/// An IPv4 subnet, `10.88.0.0/16`: the address has no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// The subnet `network/prefix`; an error if host bits are set or the
    /// prefix leaves no room for a gateway and a container (more than 30).
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<Subnet, String> {
        if prefix > 30 {
            return Err(format!(
                "subnet {network}/{prefix}: prefix longer than /30 leaves no room for containers"
            ));
        }
        let subnet = Subnet { network, prefix };
        if u32::from(network) & !subnet.mask() != 0 {
            return Err(format!(
                "subnet {network}/{prefix}: host bits are set (did you mean {}/{prefix}?)",
                Ipv4Addr::from(u32::from(network) & subnet.mask())
            ));
        }
        Ok(subnet)
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    /// Whether the prefix `addr/len` (a route's destination, any length)
    /// shares an address with this subnet.
    pub fn overlaps_prefix(&self, addr: Ipv4Addr, len: u8) -> bool {
        let shorter = len.min(self.prefix);
        let mask = match shorter {
            0 => 0,
            n => u32::MAX << (32 - n.min(32)),
        };
        u32::from(addr) & mask == u32::from(self.network) & mask
    }

    /// Whether `ip` can be a host here (not the network or broadcast).
    pub fn is_host(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.network && ip != self.broadcast()
    }

    /// The number of host addresses.
    fn hosts(&self) -> u32 {
        (1u32 << (32 - self.prefix)) - 2
    }

    /// The first host address, `.1` of a /24.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("subnet {s:?}: expected ADDRESS/PREFIX"))?;
        let ip = ip
            .parse()
            .map_err(|_| format!("subnet {s:?}: {ip:?} is not an IPv4 address"))?;
        let prefix = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("subnet {s:?}: prefix {prefix:?} is not 0-32"))?;
        Subnet::new(ip, prefix)
    }
}

impl Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One container's address on a network, and the host ports it publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub container: String,
    pub address: Ipv4Addr,
    pub ports: Vec<PortMapping>,
}

/// Every lease of one network, as kept in its leases.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    /// The address handed out last; allocation continues after it.
    pub last: Option<Ipv4Addr>,
    pub leases: Vec<Lease>,
}

impl Leases {
    pub fn new(subnet: Subnet, gateway: Ipv4Addr) -> Leases {
        Leases {
            subnet,
            gateway,
            last: None,
            leases: Vec::new(),
        }
    }

    pub fn of(&self, container: &str) -> Option<&Lease> {
        self.leases.iter().find(|l| l.container == container)
    }

    /// Leases an address to `container` with `ports`: `requested` if given
    /// and free, else the next free one. Changes nothing on error. The
    /// caller checks that the container has no lease yet.
    pub fn allocate(
        &mut self,
        network: &str,
        container: &str,
        requested: Option<Ipv4Addr>,
        ports: &[PortMapping],
    ) -> Result<Ipv4Addr, Error> {
        for port in ports {
            if let Some(owner) = self
                .leases
                .iter()
                .find(|l| l.ports.iter().any(|p| p.clashes_with(port)))
            {
                return Err(Error::PortTaken {
                    container: container.to_string(),
                    port: *port,
                    owner: owner.container.clone(),
                });
            }
        }
        let taken: HashSet<Ipv4Addr> = self.leases.iter().map(|l| l.address).collect();
        let address = match requested {
            Some(ip) => {
                if !self.subnet.is_host(ip) || ip == self.gateway {
                    return Err(Error::Request {
                        container: container.to_string(),
                        reason: format!(
                            "address {ip} is not a free host address of subnet {} (gateway {})",
                            self.subnet, self.gateway
                        ),
                    });
                }
                if let Some(owner) = self.leases.iter().find(|l| l.address == ip) {
                    return Err(Error::AddressTaken {
                        container: container.to_string(),
                        address: ip,
                        owner: owner.container.clone(),
                    });
                }
                ip
            }
            None => self.next_free(&taken).ok_or_else(|| Error::Exhausted {
                network: network.to_string(),
                subnet: self.subnet,
                leased: self.leases.len(),
            })?,
        };
        self.leases.push(Lease {
            container: container.to_string(),
            address,
            ports: ports.to_vec(),
        });
        if requested.is_none() {
            self.last = Some(address);
        }
        Ok(address)
    }

    /// The first free host address after `last` (wrapping around), not the
    /// gateway.
    fn next_free(&self, taken: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
        let first = u32::from(self.subnet.first_host());
        let count = self.subnet.hosts();
        let start = match self.last {
            Some(last) if self.subnet.is_host(last) => u32::from(last) - first + 1,
            _ => 0,
        };
        (0..count)
            .map(|i| Ipv4Addr::from(first + (start + i) % count))
            .find(|ip| *ip != self.gateway && !taken.contains(ip))
    }

    /// Removes the lease of `container`; returns it if there was one.
    pub fn release(&mut self, container: &str) -> Option<Lease> {
        let at = self.leases.iter().position(|l| l.container == container)?;
        Some(self.leases.remove(at))
    }
}

/// Where one network's leases live, and its lock.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store of network `name` under `state_dir`.
    pub fn new(state_dir: &Path, name: &str) -> Store {
        Store {
            dir: state_dir.join("networks").join(name),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn leases_path(&self) -> PathBuf {
        self.dir.join("leases.json")
    }

    /// Takes the network's lock (waiting for other processes), creating
    /// the directory if needed.
    pub fn lock(&self) -> Result<Locked, Error> {
        fs::create_dir_all(&self.dir)
            .map_err(Error::io(format!("creating {}", self.dir.display())))?;
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(Error::io(format!("opening {}", path.display())))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| Error::Io {
            what: format!("locking {}", path.display()),
            source: errno.into(),
        })?;
        Ok(Locked {
            _lock: lock,
            path: self.leases_path(),
        })
    }
}

/// The network's leases file while its lock is held.
pub struct Locked {
    _lock: Flock<File>,
    path: PathBuf,
}

impl Locked {
    /// The leases on disk, or None when none were ever written.
    pub fn load(&self) -> Result<Option<Leases>, Error> {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("reading {}", self.path.display()))(e)),
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| Error::State {
                what: format!("reading {}", self.path.display()),
                reason: format!("{e} (move the file away to start over)"),
            })
    }

    /// Writes `leases` durably ([`jolt_runtime::durable`]); on a full
    /// disk, in place when that needs no new space.
    pub fn save(&self, leases: &Leases) -> Result<(), Error> {
        let what = || format!("writing {}", self.path.display());
        let text = serde_json::to_vec_pretty(leases).expect("leases serialize");
        match jolt_runtime::durable::write(&self.path, &text, 0o644) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                let _ = fs::remove_file(jolt_runtime::durable::temporary(&self.path));
                overwrite(&self.path, &text).map_err(|_| e)
            }
            other => other,
        }
        .map_err(Error::io(what()))
    }
}

/// Writes `text` over the file at `path` in place, padded with spaces
/// (JSON allows them at the end) to the file's length, which needs no new
/// blocks: the way to save a change that does not grow the file on a
/// full disk. Not atomic, so only where the atomic way cannot be taken.
fn overwrite(path: &Path, text: &[u8]) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    let len = file.metadata()?.len() as usize;
    if text.len() > len {
        return Err(io::Error::from_raw_os_error(libc::ENOSPC));
    }
    let mut padded = text.to_vec();
    padded.resize(len, b' ');
    file.write_all_at(&padded, 0)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ports::PortMapping;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn leases(subnet: &str, gateway: &str) -> Leases {
        Leases::new(subnet.parse().unwrap(), ip(gateway))
    }

    #[test]
    fn an_overwrite_pads_a_shorter_text_and_refuses_a_longer_one() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("leases.json");
        fs::write(&path, r#"{"leases":[1,2]}"#).unwrap();
        overwrite(&path, br#"{"leases":[]}"#).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"leases\":[]}   ");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["leases"], serde_json::json!([]));
        let e = overwrite(&path, br#"{"leases":[1,2,3,4]}"#).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "unchanged");
    }

    #[test]
    fn subnets_parse_and_refuse_host_bits() {
        let s: Subnet = "10.88.0.0/16".parse().unwrap();
        assert_eq!(s.broadcast(), ip("10.88.255.255"));
        assert!(s.contains(ip("10.88.3.4")) && !s.contains(ip("10.89.0.1")));
        let err = "10.88.0.1/16".parse::<Subnet>().unwrap_err();
        assert!(err.contains("did you mean 10.88.0.0/16"), "{err}");
        assert!("10.88.0.0/31".parse::<Subnet>().is_err());
        assert!("10.88.0.0/33".parse::<Subnet>().is_err());
        assert!("10.88.0.0".parse::<Subnet>().is_err());
        assert!(s.overlaps_prefix(ip("10.0.0.0"), 8));
        assert!(!s.overlaps_prefix(ip("10.89.0.0"), 16));
        assert!(s.overlaps_prefix(ip("10.88.7.9"), 32));
        assert!(!s.overlaps_prefix(ip("10.87.255.255"), 32));
    }

    #[test]
    fn hands_out_addresses_in_order_skipping_the_gateway() {
        let mut l = leases("10.1.0.0/24", "10.1.0.1");
        assert_eq!(l.allocate("n", "a", None, &[]).unwrap(), ip("10.1.0.2"));
        assert_eq!(l.allocate("n", "b", None, &[]).unwrap(), ip("10.1.0.3"));
        assert_eq!(l.of("b").unwrap().address, ip("10.1.0.3"));
    }

    #[test]
    fn a_released_address_is_not_reused_at_once() {
        let mut l = leases("10.1.0.0/24", "10.1.0.1");
        l.allocate("n", "a", None, &[]).unwrap();
        l.allocate("n", "b", None, &[]).unwrap();
        assert!(l.release("a").is_some());
        assert!(l.release("a").is_none(), "a second release is a no-op");
        assert_eq!(l.allocate("n", "c", None, &[]).unwrap(), ip("10.1.0.4"));
    }

    #[test]
    fn wraps_around_and_reports_exhaustion() {
        // /29: hosts .1-.6, gateway .1: five containers.
        let mut l = leases("10.1.0.0/29", "10.1.0.1");
        for c in ["a", "b", "c", "d", "e"] {
            l.allocate("n", c, None, &[]).unwrap();
        }
        let before = l.clone();
        let err = l.allocate("n", "f", None, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "network n: no free address left in subnet 10.1.0.0/29 (5 leased); \
             tear down a container or use a larger subnet"
        );
        assert_eq!(l, before, "a failed allocation changes nothing");
        l.release("b");
        assert_eq!(l.allocate("n", "f", None, &[]).unwrap(), ip("10.1.0.3"));
    }

    #[test]
    fn static_addresses_must_be_free_hosts_of_the_subnet() {
        let mut l = leases("10.1.0.0/24", "10.1.0.1");
        assert_eq!(
            l.allocate("n", "a", Some(ip("10.1.0.50")), &[]).unwrap(),
            ip("10.1.0.50")
        );
        let err = l
            .allocate("n", "b", Some(ip("10.1.0.50")), &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "container b: address 10.1.0.50 is already leased to container a"
        );
        for bad in ["10.1.0.1", "10.1.0.0", "10.1.0.255", "10.2.0.5"] {
            let err = l.allocate("n", "b", Some(ip(bad)), &[]).unwrap_err();
            assert!(err.to_string().contains("not a free host address"), "{err}");
        }
        assert_eq!(l.leases.len(), 1);
        // A static address does not move where dynamic allocation goes on.
        assert_eq!(l.allocate("n", "c", None, &[]).unwrap(), ip("10.1.0.2"));
    }

    #[test]
    fn a_published_port_belongs_to_one_container() {
        let mut l = leases("10.1.0.0/24", "10.1.0.1");
        l.allocate("n", "web", None, &[PortMapping::tcp(8080, 80)])
            .unwrap();
        let err = l
            .allocate("n", "other", None, &[PortMapping::tcp(8080, 8000)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "container other: port 8080:8000/tcp is already published by container web"
        );
        assert!(l.of("other").is_none());
        l.allocate("n", "dns", None, &[PortMapping::udp(8080, 53)])
            .unwrap();
    }

    #[test]
    fn leases_survive_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "n");
        {
            let locked = store.lock().unwrap();
            assert_eq!(locked.load().unwrap(), None);
            let mut l = leases("10.1.0.0/24", "10.1.0.1");
            l.allocate("n", "a", None, &[PortMapping::udp(53, 53)])
                .unwrap();
            locked.save(&l).unwrap();
        }
        let locked = store.lock().unwrap();
        let l = locked.load().unwrap().unwrap();
        assert_eq!(l.of("a").unwrap().ports, vec![PortMapping::udp(53, 53)]);
        assert_eq!(l.last, Some(ip("10.1.0.2")));
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "n");
        fs::create_dir_all(store.dir()).unwrap();
        fs::write(store.dir().join("leases.json"), "{").unwrap();
        let err = store.lock().unwrap().load().unwrap_err().to_string();
        assert!(
            err.contains("leases.json") && err.contains("move the file away"),
            "{err}"
        );
    }

    /// Where [`allocating_child`] allocates, and the name it tags its
    /// containers with; set only in the processes the test below starts.
    const CHILD_DIR: &str = "JOLT_IPAM_TEST_DIR";
    const CHILD_TAG: &str = "JOLT_IPAM_TEST_CHILD";

    /// Not a test of its own: the body of each process that
    /// `separate_processes_never_share_an_address` starts (this test
    /// binary, run again with this test alone); a no-op otherwise.
    #[test]
    fn allocating_child() {
        let (Ok(dir), Ok(tag)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_TAG)) else {
            return;
        };
        let store = Store::new(Path::new(&dir), "n");
        for i in 0..20 {
            let locked = store.lock().unwrap();
            let mut l = locked
                .load()
                .unwrap()
                .unwrap_or_else(|| leases("10.1.0.0/24", "10.1.0.1"));
            l.allocate("n", &format!("{tag}-{i}"), None, &[]).unwrap();
            locked.save(&l).unwrap();
        }
    }

    /// Six processes allocate 20 addresses each from one lease file at
    /// the same time: flock serialises them, so none is handed out twice
    /// and no allocation is lost.
    #[test]
    fn separate_processes_never_share_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..6)
            .map(|p| {
                std::process::Command::new(&exe)
                    .args([
                        "--exact",
                        "network::ipam::tests::allocating_child",
                        "--test-threads=1",
                        "--quiet",
                    ])
                    .env(CHILD_DIR, dir.path())
                    .env(CHILD_TAG, format!("p{p}"))
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success(), "a child failed");
        }
        let l = Store::new(dir.path(), "n")
            .lock()
            .unwrap()
            .load()
            .unwrap()
            .unwrap();
        let addrs: HashSet<_> = l.leases.iter().map(|l| l.address).collect();
        assert_eq!(l.leases.len(), 120, "an allocation was lost");
        assert_eq!(addrs.len(), 120, "an address was handed out twice");
    }
}
