//! own: joltd's own containers as targets, from the daemon's table. Their
//! network namespace is the one joltd made and their interface `eth0`,
//! the veth joltd wired; their cgroup is read from jolt's state under
//! joltd's `--jolt-root`.

use std::sync::Arc;

use futures::future::BoxFuture;
use jolt_runtime::state::Root;

use super::{Running, Seen, TargetSource, JOLTD};
use crate::container::{Record, State};
use crate::daemon::Daemon;

/// The interface every container of joltd has in its network namespace.
pub const INTERFACE: &str = "eth0";

/// joltd's containers.
pub struct Own(pub Arc<Daemon>);

impl Own {
    fn running_of(&self, r: Record) -> Option<Running> {
        let pid = r.status.pid.filter(|_| r.status.state == State::Running)?;
        let cgroup = Root::new(&self.0.jolt().root)
            .peek(&r.id)
            .map(|s| s.cgroup_path)
            .unwrap_or_default();
        Some(Running {
            netns: Some(self.0.netns_path(&r.id)),
            interface: Some(INTERFACE.to_string()),
            id: r.id,
            name: r.spec.name,
            origin: JOLTD.to_string(),
            labels: r.spec.labels,
            annotations: Default::default(),
            pid,
            cgroup,
            command: r.spec.command,
            created: r.status.started.unwrap_or(r.created),
        })
    }
}

impl TargetSource for Own {
    fn running(&self) -> BoxFuture<'_, Vec<Running>> {
        Box::pin(async move {
            let records = self.0.list(false).await;
            records
                .into_iter()
                .filter_map(|r| self.running_of(r))
                .collect()
        })
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Seen> {
        Box::pin(async move {
            let Ok(r) = self.0.inspect(id).await else {
                return Seen::Gone;
            };
            match r.status.state {
                State::Exited => Seen::Exited,
                State::Running => match self.running_of(r) {
                    Some(running) => Seen::Running(Box::new(running)),
                    None => Seen::Down,
                },
                State::Creating | State::Restarting => Seen::Down,
            }
        })
    }
}
