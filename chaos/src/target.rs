//! target: the running container a fault is aimed at, as joltd knows it.
//! Only data; finding its cgroup, netns and interface is the faults' job.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A running container a fault is aimed at, as joltd knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub name: String,
    /// The container's init pid on the host.
    pub pid: i32,
    /// The container's network namespace file (e.g. /run/jolt/netns/ID), if it has one.
    pub netns: Option<PathBuf>,
    /// Its interface inside that netns ("eth0"); None: the one that holds
    /// the namespace's default route, found when a fault is prepared.
    #[serde(default)]
    pub interface: Option<String>,
}
