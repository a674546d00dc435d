//! targets: the containers chaos experiments may hit, whoever runs them.
//!
//! Owns the one small interface the experiment runner reaches containers
//! through ([`TargetSource`]: the running ones with their labels,
//! annotations and origin, and one of them by id now) and its two
//! implementations: joltd's own containers ([`own`], from the daemon) and
//! the containers jolt runs for containerd, podman or by hand, read from
//! jolt's state roots ([`foreign`], never written). [`Sources`] puts the
//! two together. Does not own what a fault does (jolt-chaos) nor when
//! (`experiments`).

pub mod foreign;
pub mod own;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use jolt_chaos::selector::Candidate;
use jolt_chaos::target::Target;
use serde::{Deserialize, Serialize};

pub use foreign::{ForeignRoots, RootError};

/// The origin of joltd's own containers.
pub const JOLTD: &str = "joltd";

/// The CRI annotations that name a Kubernetes container: a container with
/// the same three is the same workload (kubelet restarts a container under
/// a new id).
pub const CRI_WORKLOAD: [&str; 3] = [
    "io.kubernetes.cri.sandbox-namespace",
    "io.kubernetes.cri.sandbox-name",
    "io.kubernetes.cri.container-name",
];

/// A running container as experiments see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub id: String,
    pub name: String,
    /// `joltd`, `podman`, `jolt` or `containerd/NAMESPACE`.
    pub origin: String,
    /// joltd's labels (foreign containers have none).
    pub labels: BTreeMap<String, String>,
    /// The OCI annotations of its config.json.
    pub annotations: BTreeMap<String, String>,
    /// Its init, in the node's pid namespace.
    pub pid: i32,
    /// Its cgroup path relative to each hierarchy's root, as jolt made it.
    pub cgroup: String,
    /// Its network namespace file, when it has one of its own.
    pub netns: Option<PathBuf>,
    /// The interface a network fault goes to; None: the one holding the
    /// namespace's default route.
    #[serde(skip)]
    pub interface: Option<String>,
    /// Its command line.
    pub command: Vec<String>,
    /// RFC 3339, UTC.
    pub created: String,
}

impl Running {
    pub fn is_own(&self) -> bool {
        self.origin == JOLTD
    }

    /// What the selector sees.
    pub fn candidate(&self) -> Candidate {
        Candidate {
            id: self.id.clone(),
            name: self.name.clone(),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            origin: self.origin.clone(),
            running: true,
        }
    }

    /// What a network fault's container peer is resolved against: the
    /// addresses its network namespace holds now (none without one of its
    /// own, or when they cannot be read).
    pub fn peer(&self) -> jolt_chaos::fault::PeerCandidate {
        let addresses = self
            .netns
            .as_deref()
            .and_then(|ns| jolt_chaos::fault::addresses(ns).ok())
            .unwrap_or_default();
        jolt_chaos::fault::PeerCandidate {
            id: self.id.clone(),
            name: self.name.clone(),
            labels: self.labels.clone(),
            addresses,
        }
    }

    /// What a fault is aimed at.
    pub fn target(&self) -> Target {
        Target {
            id: self.id.clone(),
            name: self.name.clone(),
            pid: self.pid,
            netns: self.netns.clone(),
            interface: self.interface.clone(),
        }
    }

    /// The Kubernetes workload it runs (namespace, pod, container), when
    /// containerd's CRI annotated it.
    pub fn workload(&self) -> Option<[&str; 3]> {
        let [a, b, c] = CRI_WORKLOAD.map(|k| self.annotations.get(k).map(String::as_str));
        Some([a?, b?, c?])
    }
}

/// A running container as `chaosctl ps --all-runtimes` shows it: with the
/// faults of experiments it is under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    #[serde(flatten)]
    pub running: Running,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::container::Faulted>,
}

/// One container by id, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Running(Box<Running>),
    /// Not running; its owner may start it again (joltd: its restart
    /// policy is at work; foreign: stopped, its state still there).
    Down,
    /// Exited for good: joltd's restart policy does not bring it back.
    Exited,
    /// No such container: removed, or its state is gone.
    Gone,
}

/// Where the experiment runner finds containers.
pub trait TargetSource: Send + Sync {
    /// The running containers.
    fn running(&self) -> BoxFuture<'_, Vec<Running>>;
    /// Container `id` (an id, not a name) now.
    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Seen>;
}

/// joltd's own containers and the foreign ones together.
pub struct Sources {
    pub own: Arc<dyn TargetSource>,
    pub foreign: Arc<ForeignRoots>,
}

impl TargetSource for Sources {
    fn running(&self) -> BoxFuture<'_, Vec<Running>> {
        Box::pin(async move {
            let mut all = self.own.running().await;
            all.extend(self.foreign.running().await);
            all
        })
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Seen> {
        Box::pin(async move {
            match self.own.inspect(id).await {
                Seen::Gone => self.foreign.inspect(id).await,
                seen => seen,
            }
        })
    }
}

#[cfg(test)]
pub mod fake {
    //! A [`TargetSource`] whose containers a test sets.

    use std::sync::Mutex;

    use super::*;

    /// Containers a test holds: the running ones, and what `inspect`
    /// says of the others.
    #[derive(Default)]
    pub struct Fake {
        pub running: Mutex<Vec<Running>>,
        pub seen: Mutex<BTreeMap<String, Seen>>,
    }

    /// A running container of `origin` with `pid`.
    pub fn running(id: &str, origin: &str, pid: i32) -> Running {
        Running {
            id: id.into(),
            name: format!("{id}-name"),
            origin: origin.into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            pid,
            cgroup: format!("/test/{id}"),
            netns: None,
            interface: None,
            command: vec!["sleep".into()],
            created: "2026-12-05T00:00:00Z".into(),
        }
    }

    impl TargetSource for Fake {
        fn running(&self) -> BoxFuture<'_, Vec<Running>> {
            let all = self.running.lock().unwrap().clone();
            Box::pin(async move { all })
        }

        fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Seen> {
            let found = self
                .running
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.id == id)
                .cloned();
            let seen = match found {
                Some(r) => Seen::Running(Box::new(r)),
                None => self
                    .seen
                    .lock()
                    .unwrap()
                    .get(id)
                    .cloned()
                    .unwrap_or(Seen::Gone),
            };
            Box::pin(async move { seen })
        }
    }
}
