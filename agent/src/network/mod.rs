//! network: the network part of the node agent, Docker's docker0 built the
//! way netavark builds it: a bridge, a veth pair per container, an address
//! from IPAM, masquerade for traffic going out and DNAT for published
//! ports. joltd calls [`Network::setup`] before `jolt create` (the bundle
//! joins [`Attachment::netns`] through `linux.namespaces[].path`) and
//! [`Network::teardown`] after `jolt delete`.
//!
//! Owns the order of the steps and their undoing: every step is idempotent,
//! a failed setup tears down what it made, and teardown works from the
//! container ID alone, so a crash between steps leaves state the next
//! teardown cleans. [`Network::reconcile`] finds what containers joltd has
//! no record of left here (their leases, namespace files, host veths and
//! firewall rules), for joltd to keep, adopt or remove. The submodules own one kind of resource each. Netlink,
//! nft and sysctl work happens on dedicated threads in the node's (or the
//! container's) network namespace, never on the caller's thread.
//!
//! IPv4 only for now.

mod bridge;
mod conntrack;
mod error;
mod firewall;
mod ipam;
mod netns;
mod pool;
mod ports;
mod sysctl;
mod veth;

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use error::Error;
pub use firewall::{Owned as FirewallRules, MASQUERADE_MARK, TABLE as FIREWALL_TABLE};
pub use ipam::{Lease, Subnet};
pub use pool::{default_subnet, Chosen};
pub use ports::{PortMapping, Protocol};
pub use veth::{host_name as host_veth_name, CONTAINER_IFNAME};

/// FNV-1a, for names derived from IDs (veth, MAC): stable across builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One network: its bridge, subnet and where its state lives.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The network's name (its state directory and messages use it).
    pub name: String,
    /// The bridge's interface name.
    pub bridge: String,
    pub subnet: Subnet,
    /// The bridge's address and the containers' default route.
    pub gateway: Ipv4Addr,
    /// Leases live in `<state_dir>/networks/<name>/`.
    pub state_dir: PathBuf,
    /// Container namespaces are mounted at `<netns_dir>/<container>`.
    pub netns_dir: PathBuf,
    /// The node's network namespace, where the bridge, the host ends and
    /// the firewall live: None for the namespace of this process (the
    /// host's, for joltd), or the path of a namespace file (tests).
    pub node_netns: Option<PathBuf>,
}

impl Default for NetworkConfig {
    /// `jolt0`, 10.88.0.0/16, gateway 10.88.0.1, state under /var/lib/jolt,
    /// namespaces under /run/jolt/netns, in this process's namespace.
    fn default() -> Self {
        NetworkConfig {
            name: "jolt0".into(),
            bridge: "jolt0".into(),
            subnet: Subnet::new(Ipv4Addr::new(10, 88, 0, 0), 16).expect("a valid subnet"),
            gateway: Ipv4Addr::new(10, 88, 0, 1),
            state_dir: PathBuf::from("/var/lib/jolt"),
            netns_dir: PathBuf::from("/run/jolt/netns"),
            node_netns: None,
        }
    }
}

/// A network as `chaosctl network ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Listed {
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
}

impl NetworkConfig {
    /// What `chaosctl network ls` shows of it.
    pub fn listed(&self) -> Listed {
        Listed {
            name: self.name.clone(),
            bridge: self.bridge.clone(),
            subnet: self.subnet.to_string(),
            gateway: self.gateway.to_string(),
        }
    }
}

/// What a container asks of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub container: String,
    /// A static address, or None for the next free one.
    pub address: Option<Ipv4Addr>,
    pub ports: Vec<PortMapping>,
}

impl Request {
    /// A request for the next free address and no published port.
    pub fn new(container: &str) -> Request {
        Request {
            container: container.to_string(),
            address: None,
            ports: Vec::new(),
        }
    }

    pub fn port(mut self, port: PortMapping) -> Request {
        self.ports.push(port);
        self
    }

    pub fn address(mut self, address: Ipv4Addr) -> Request {
        self.address = Some(address);
        self
    }
}

/// A container wired to a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub container: String,
    /// The namespace file for `linux.namespaces[].path`.
    pub netns: PathBuf,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    /// The host end of the veth pair, in the node's namespace.
    pub host_veth: String,
    pub ports: Vec<PortMapping>,
}

/// What one container has on a network, as found in the kernel and the
/// leases rather than in joltd's records.
#[derive(Debug, Clone, Default)]
pub struct Traces {
    pub lease: Option<Lease>,
    /// Its namespace file is in the namespace directory.
    pub netns: bool,
    /// The name of its host veth.
    pub veth: Option<String>,
    /// Its chains and map elements in the firewall table.
    pub rules: Option<FirewallRules>,
}

/// What [`Network::reconcile`] does with the traces of a container joltd
/// has no record of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposal {
    Keep,
    Adopt,
    Remove,
}

/// One container's traces and what was done with them.
#[derive(Debug)]
pub struct Reconciled {
    pub container: String,
    pub traces: Traces,
    pub disposal: Disposal,
    pub result: Result<(), Error>,
}

/// A network and the operations on it.
#[derive(Debug, Clone)]
pub struct Network {
    config: NetworkConfig,
    /// Whether iptables' FORWARD rules were put in place (or found) since
    /// this network (or the one it was cloned from) was made: checked at
    /// the first setup after joltd starts, since another program may
    /// have changed iptables meanwhile or an earlier joltd left rules that
    /// need healing.
    forward_allowed: Arc<AtomicBool>,
}

/// A name that is safe as a file name, a comment and in messages.
fn check_name(kind: &str, name: &str, max: usize) -> Result<(), String> {
    if jolt_runtime::names::name(name, max) {
        Ok(())
    } else {
        Err(format!(
            "{kind} {name:?} is not a valid name (1-{max} of A-Z a-z 0-9 _ . -, starting with a letter or digit)"
        ))
    }
}

impl Network {
    /// Checks `config` (nothing is made until a container is set up).
    pub fn new(config: NetworkConfig) -> Result<Network, Error> {
        let bad = |reason: String| Error::Config {
            network: config.name.clone(),
            reason,
        };
        check_name("network name", &config.name, 64).map_err(bad)?;
        check_name("bridge name", &config.bridge, 15).map_err(bad)?;
        if !config.subnet.is_host(config.gateway) {
            return Err(bad(format!(
                "gateway {} is not a host address of subnet {}",
                config.gateway, config.subnet
            )));
        }
        Ok(Network {
            config,
            forward_allowed: Arc::default(),
        })
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    fn store(&self) -> ipam::Store {
        ipam::Store::new(&self.config.state_dir, &self.config.name)
    }

    /// Where the namespace of `container` is mounted.
    pub fn netns_path(&self, container: &str) -> PathBuf {
        self.config.netns_dir.join(container)
    }

    /// Runs `work` in the node's network namespace (on a new thread in the
    /// one `node_netns` names, or here in joltd's own), and waits: sockets
    /// made there stay there, for probes and listeners that must reach the
    /// node's network.
    pub fn run_in_node<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send,
        F: FnOnce() -> Result<T, Error> + Send,
    {
        match self.node_ns() {
            None => work(),
            ns => netns::run_in(ns, work),
        }
    }

    fn node_ns(&self) -> Option<&Path> {
        self.config.node_netns.as_deref()
    }

    fn check_request(&self, req: &Request) -> Result<(), Error> {
        let bad = |reason: String| Error::Request {
            container: req.container.clone(),
            reason,
        };
        check_name("container ID", &req.container, 64).map_err(bad)?;
        for (i, port) in req.ports.iter().enumerate() {
            port.check().map_err(bad)?;
            if let Some(other) = req.ports[..i].iter().find(|p| p.clashes_with(port)) {
                return Err(bad(format!(
                    "ports {other} and {port} claim the same host port"
                )));
            }
        }
        Ok(())
    }

    /// Wires `req.container`: its netns, veth pair, address, routes and
    /// firewall rules. Setting up a container that is already set up the
    /// same way repairs what is missing and returns the same attachment;
    /// asking for something different is an error. A bad request or a
    /// failure leaves nothing behind.
    pub fn setup(&self, req: &Request) -> Result<Attachment, Error> {
        self.check_request(req)?;
        let store = self.store();
        let locked = store.lock()?;
        let mut leases = match locked.load()? {
            Some(l) if l.subnet != self.config.subnet || l.gateway != self.config.gateway => {
                return Err(Error::Config {
                    network: self.config.name.clone(),
                    reason: format!(
                        "its leases in {} are for subnet {} gateway {}, not {} gateway {}",
                        store.dir().display(),
                        l.subnet,
                        l.gateway,
                        self.config.subnet,
                        self.config.gateway
                    ),
                })
            }
            Some(l) => l,
            None => ipam::Leases::new(self.config.subnet, self.config.gateway),
        };
        let (lease, fresh) = match leases.of(&req.container) {
            Some(lease) => {
                if lease.ports != req.ports || req.address.is_some_and(|a| a != lease.address) {
                    return Err(Error::Request {
                        container: req.container.clone(),
                        reason: format!(
                            "already set up with address {} and ports [{}]; tear it down first",
                            lease.address,
                            lease
                                .ports
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
                (lease.clone(), false)
            }
            None => {
                let mut trial = leases.clone();
                trial.allocate(&self.config.name, &req.container, req.address, &req.ports)?;
                self.check_overlap()?;
                leases = trial;
                locked.save(&leases)?;
                (
                    leases.of(&req.container).cloned().expect("just leased"),
                    true,
                )
            }
        };
        let wired = match self.wire_links(&lease) {
            Err(e) => Err((e, false)),
            Ok(attachment) => match self.wire_rules(&lease, fresh) {
                Ok(()) => Ok(attachment),
                Err(e) => Err((e, true)),
            },
        };
        match wired {
            Ok(attachment) => Ok(attachment),
            Err((e, rules_touched)) => {
                // The lease goes only when everything else did, so that a
                // later teardown can still find what is left. Rules are
                // removed only if their step ran: the removal batch would
                // make the table on a node that has none.
                let rules_of = rules_touched.then_some(&lease);
                if fresh && self.unwire(&lease.container, rules_of, false).is_ok() {
                    leases.release(&lease.container);
                    let _ = locked.save(&leases);
                }
                Err(e)
            }
        }
    }

    /// Errors if the subnet overlaps a route of the node that does not go
    /// through this network's bridge.
    fn check_overlap(&self) -> Result<(), Error> {
        let config = &self.config;
        netns::netlink(self.node_ns(), |h| async move {
            let bridge = bridge::find(&h, &config.bridge).await?;
            bridge::check_overlap(&h, config, bridge.map(|b| b.header.index)).await
        })
    }

    /// The links of setup, after the lease, each step idempotent: the
    /// netns, the bridge, the veth pair, and the address and routes inside.
    fn wire_links(&self, lease: &Lease) -> Result<Attachment, Error> {
        let config = &self.config;
        let id = lease.container.as_str();
        let netns_path = self.netns_path(id);
        let created = netns::create(&netns_path)?;
        let node_ns = self.node_ns();
        let path = netns_path.as_path();
        let has_eth0 = created
            || netns::netlink(
                Some(path),
                |h| async move { veth::has_container_end(&h).await },
            )?;
        let bridge_missing = netns::netlink(node_ns, |h| async move {
            Ok(bridge::find(&h, &config.bridge).await?.is_none())
        })?;
        if bridge_missing || !self.forward_allowed.load(Ordering::Acquire) {
            // Before the bridge, so that no crash can leave a bridge whose
            // traffic iptables' FORWARD chain drops: a crash in between
            // leaves the rules, and the next setup finds them in place.
            netns::run_in(node_ns, || {
                firewall::allow_in_iptables_forward(&config.name, &config.bridge)
            })?;
            self.forward_allowed.store(true, Ordering::Release);
        }
        netns::netlink(node_ns, |h| async move {
            let bridge = bridge::ensure(&h, config).await?;
            if !has_eth0 {
                // A host end whose peer is gone (its namespace was lost).
                veth::remove(&h, id).await?;
            }
            veth::create(&h, id, bridge, path).await
        })?;
        netns::netlink(Some(path), |h| async move {
            veth::configure(
                &h,
                id,
                lease.address,
                config.subnet.prefix(),
                config.gateway,
            )
            .await
        })?;
        Ok(Attachment {
            container: id.to_string(),
            netns: netns_path,
            address: lease.address,
            prefix: config.subnet.prefix(),
            gateway: config.gateway,
            host_veth: veth::host_name(id),
            ports: lease.ports.clone(),
        })
    }

    /// The rules of setup, after its links: the sysctls, the container's
    /// firewall rules and a flush of its UDP ports' stale flows; `fresh`
    /// when the lease was just made (no rules of the container exist yet).
    fn wire_rules(&self, lease: &Lease, fresh: bool) -> Result<(), Error> {
        let config = &self.config;
        let id = lease.container.as_str();
        netns::run_in(self.node_ns(), || {
            sysctl::enable_napt(&config.bridge)?;
            firewall::apply(
                &firewall::ContainerRules {
                    container: id,
                    bridge: &config.bridge,
                    address: lease.address,
                    subnet: config.subnet,
                    ports: &lease.ports,
                },
                fresh,
            )?;
            conntrack::flush_udp(id, &lease.ports)
        })
    }

    /// Removes the firewall rules and conntrack entries (known from its
    /// `lease`: a container has rules only while it has a lease), veth pair
    /// and netns of `container`; every step runs even if an earlier one
    /// failed, and the first error is returned. With `listed`, rules of a
    /// container without a lease (its lease was lost) are looked for in a
    /// listing of the table and removed too.
    fn unwire(&self, container: &str, lease: Option<&Lease>, listed: bool) -> Result<(), Error> {
        let node_ns = self.node_ns();
        let mut first = None;
        let mut keep = |r: Result<(), Error>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        match lease {
            Some(lease) => keep(netns::run_in(node_ns, || {
                let removed = firewall::remove(container, lease.address, &lease.ports);
                conntrack::flush_udp(container, &lease.ports).and(removed)
            })),
            None if listed => keep(netns::run_in(node_ns, || {
                match firewall::owners()?.get(container) {
                    Some(owned) => firewall::remove_listed(container, owned),
                    None => Ok(()),
                }
            })),
            None => {}
        }
        keep(netns::netlink(node_ns, |h| async move {
            veth::remove(&h, container).await
        }));
        keep(netns::remove(&self.netns_path(container)));
        first.map_or(Ok(()), Err)
    }

    /// Unwires `container` and releases its lease. Tearing down a
    /// container that is not set up (or half set up) is not an error; the
    /// lease goes last, so a teardown that fails can be run again.
    pub fn teardown(&self, container: &str) -> Result<(), Error> {
        check_name("container ID", container, 64).map_err(|reason| Error::Request {
            container: container.to_string(),
            reason,
        })?;
        let locked = self.store().lock()?;
        let mut leases = locked.load()?;
        let lease = leases.as_ref().and_then(|l| l.of(container)).cloned();
        self.unwire(container, lease.as_ref(), true)?;
        if let Some(leases) = leases.as_mut() {
            if leases.release(container).is_some() {
                locked.save(leases)?;
            }
        }
        Ok(())
    }

    /// Holds this network's lock, lists every container that has a lease,
    /// a namespace file, a host veth or firewall rules here, then (still
    /// under the lock, so no setup or teardown runs meanwhile) asks
    /// `known` for the containers joltd has records of, and `decide` what
    /// to do with each other one's traces: keep them, adopt them (lease
    /// the address and ports its rules show, so that no new container is
    /// given them), or remove them. A host veth whose owner is unknown
    /// (its setup stopped before naming it) is listed under its own name.
    pub fn reconcile(
        &self,
        known: impl FnOnce() -> HashSet<String>,
        mut decide: impl FnMut(&str, &Traces) -> Disposal,
    ) -> Result<Vec<Reconciled>, Error> {
        let locked = self.store().lock()?;
        let mut leases = locked
            .load()?
            .unwrap_or_else(|| ipam::Leases::new(self.config.subnet, self.config.gateway));
        let loaded = leases.clone();
        let mut found: BTreeMap<String, Traces> = BTreeMap::new();
        for lease in &leases.leases {
            found.entry(lease.container.clone()).or_default().lease = Some(lease.clone());
        }
        for entry in std::fs::read_dir(&self.config.netns_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_file()) && check_name("", &name, 64).is_ok() {
                found.entry(name).or_default().netns = true;
            }
        }
        let bridge = self.config.bridge.as_str();
        let ends = netns::netlink(self.node_ns(), |h| async move {
            veth::host_ends(&h, bridge).await
        })?;
        // Rules keyed by an address of another subnet are another network's.
        let subnet = self.config.subnet;
        let owners = netns::run_in(self.node_ns(), firewall::owners)?;
        for (id, owned) in owners {
            if owned.address.is_none_or(|a| subnet.contains(a)) {
                found.entry(id).or_default().rules = Some(owned);
            }
        }
        let known = known();
        for (name, alias) in ends {
            let owner = alias.or_else(|| {
                found
                    .keys()
                    .chain(&known)
                    .find(|id| veth::host_name(id) == name)
                    .cloned()
            });
            let owner = owner.unwrap_or_else(|| name.clone());
            found.entry(owner).or_default().veth = Some(name);
        }
        let mut out = Vec::new();
        for (container, traces) in found {
            if known.contains(&container) {
                continue;
            }
            let disposal = decide(&container, &traces);
            let result = match disposal {
                Disposal::Keep => Ok(()),
                Disposal::Adopt => self.adopt(&mut leases, &container, &traces),
                Disposal::Remove => self.remove_traces(&mut leases, &container, &traces),
            };
            out.push(Reconciled {
                container,
                traces,
                disposal,
                result,
            });
        }
        if leases != loaded {
            locked.save(&leases)?;
        }
        Ok(out)
    }

    /// Leases what a container's rules show (its address and ports), if it
    /// has no lease yet.
    fn adopt(
        &self,
        leases: &mut ipam::Leases,
        container: &str,
        traces: &Traces,
    ) -> Result<(), Error> {
        if traces.lease.is_some() {
            return Ok(());
        }
        let rules = traces.rules.as_ref().filter(|r| r.address.is_some());
        let Some(rules) = rules else {
            return Err(Error::Request {
                container: container.to_string(),
                reason: "no address of it in the firewall table to keep leased".into(),
            });
        };
        let mut trial = leases.clone();
        trial.allocate(&self.config.name, container, rules.address, &rules.ports)?;
        *leases = trial;
        Ok(())
    }

    /// Removes every trace of `container`: its listed rules, its host veth
    /// (which takes the pair), its namespace file and its lease; each step
    /// runs even if an earlier one failed, and the first error is returned.
    fn remove_traces(
        &self,
        leases: &mut ipam::Leases,
        container: &str,
        traces: &Traces,
    ) -> Result<(), Error> {
        let node_ns = self.node_ns();
        let mut first = None;
        let mut keep = |r: Result<(), Error>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        if let Some(owned) = &traces.rules {
            keep(netns::run_in(node_ns, || {
                firewall::remove_listed(container, owned)
            }));
        }
        if let Some(name) = &traces.veth {
            keep(netns::netlink(node_ns, |h| async move {
                veth::remove_by_name(&h, name).await
            }));
        }
        if traces.netns {
            keep(netns::remove(&self.netns_path(container)));
        }
        if first.is_none() {
            leases.release(container);
        }
        first.map_or(Ok(()), Err)
    }

    /// The network's leases, in the order they were made.
    pub fn leases(&self) -> Result<Vec<Lease>, Error> {
        let locked = self.store().lock()?;
        Ok(locked.load()?.map(|l| l.leases).unwrap_or_default())
    }

    /// `network rm`: deletes the bridge and the network's state, and the
    /// firewall table when no rule is left in it. Refused while a
    /// container is set up on the network.
    pub fn remove(&self) -> Result<(), Error> {
        let store = self.store();
        let locked = store.lock()?;
        if let Some(leases) = locked.load()? {
            if !leases.leases.is_empty() {
                return Err(Error::Busy {
                    network: self.config.name.clone(),
                    containers: leases
                        .leases
                        .iter()
                        .map(|l| l.container.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let config = &self.config;
        netns::netlink(self.node_ns(), |h| async move {
            bridge::remove(&h, config).await
        })?;
        netns::run_in(self.node_ns(), || {
            firewall::remove_from_iptables_forward(&config.name)?;
            firewall::remove_table_if_unused()
        })?;
        let what = format!(
            "network {}: removing {}",
            config.name,
            store.dir().display()
        );
        drop(locked);
        match std::fs::remove_dir_all(store.dir()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(what)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_network_is_jolt0() {
        let net = Network::new(NetworkConfig::default()).unwrap();
        assert_eq!(net.config().bridge, "jolt0");
        assert_eq!(net.config().subnet.to_string(), "10.88.0.0/16");
        assert_eq!(net.netns_path("web"), Path::new("/run/jolt/netns/web"));
    }

    #[test]
    fn bad_configs_are_refused_naming_the_network() {
        let config = |edit: fn(&mut NetworkConfig)| {
            let mut c = NetworkConfig::default();
            edit(&mut c);
            Network::new(c).unwrap_err().to_string()
        };
        assert_eq!(
            config(|c| c.gateway = Ipv4Addr::new(10, 89, 0, 1)),
            "network jolt0: gateway 10.89.0.1 is not a host address of subnet 10.88.0.0/16"
        );
        assert!(config(|c| c.bridge = "a-very-long-bridge-name".into()).contains("bridge name"));
        assert!(config(|c| c.name = "../x".into()).contains("not a valid name"));
    }

    #[test]
    fn bad_requests_are_refused_before_anything_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let net = Network::new(NetworkConfig {
            state_dir: dir.path().join("state"),
            ..NetworkConfig::default()
        })
        .unwrap();
        let err = |req: Request| net.setup(&req).unwrap_err().to_string();
        assert!(err(Request::new("../etc")).contains("container ID \"../etc\" is not a valid name"));
        assert_eq!(
            err(Request::new("web").port(PortMapping::tcp(0, 80))),
            "container web: port mapping 0:80/tcp: ports must be 1-65535"
        );
        assert_eq!(
            err(Request::new("web")
                .port(PortMapping::tcp(8080, 80))
                .port(PortMapping::tcp(8080, 81))),
            "container web: ports 8080:80/tcp and 8080:81/tcp claim the same host port"
        );
        assert!(!dir.path().join("state").exists(), "nothing was written");
    }

    #[test]
    fn derived_names_are_stable_and_short() {
        assert_eq!(veth::host_name("web"), veth::host_name("web"));
        assert_ne!(veth::host_name("web"), veth::host_name("web2"));
        assert_eq!(veth::host_name(&"x".repeat(64)).len(), 14);
        let mac = bridge::stable_mac("jolt0");
        assert_eq!(mac[0], 0x02, "locally administered unicast");
        assert_eq!(mac, bridge::stable_mac("jolt0"));
    }
}
