//! recovery: after a kill, watching whether and when the container runs
//! again: the same container under a new init, or, for a Kubernetes
//! container (containerd's CRI annotations), a new container of the same
//! pod, namespace and container name, which is how kubelet restarts one.
//! joltd's own containers are watched until their restart policy has
//! decided; a foreign one, whose owner joltd cannot ask, until the
//! experiment's end.

use super::*;

/// What one look at a killed container says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Look {
    /// Nothing decided yet.
    Wait,
    /// It runs again, or never will: the message says which.
    Recovered(String),
    /// The same init still runs: the signal did not end it.
    Survived(String),
}

/// One look at `killed`, a kill's target, `elapsed` after the signal.
pub(super) async fn look(source: &dyn TargetSource, killed: &Running, elapsed: Duration) -> Look {
    let after = || format!("{:.3} s", elapsed.as_secs_f64());
    match source.inspect(&killed.id).await {
        Seen::Running(r) if r.pid != killed.pid => {
            Look::Recovered(format!("running again after {}", after()))
        }
        // A signal the init handles or ignores ends nothing: the same
        // init, still alive a while later, survived it.
        Seen::Running(_)
            if elapsed >= SURVIVAL
                && nix::sys::signal::kill(Pid::from_raw(killed.pid), None).is_ok() =>
        {
            Look::Survived(format!(
                "still running {} s after the signal: it did not end the container",
                SURVIVAL.as_secs()
            ))
        }
        Seen::Running(_) => Look::Wait,
        Seen::Exited => Look::Recovered("exited; its restart policy does not bring it back".into()),
        Seen::Gone if killed.is_own() => Look::Recovered("the container was removed".into()),
        Seen::Gone | Seen::Down => {
            let Some(workload) = killed.workload() else {
                return Look::Wait;
            };
            let running = source.running().await;
            let new = running
                .iter()
                .find(|r| r.id != killed.id && r.workload() == Some(workload));
            match new {
                Some(new) => Look::Recovered(format!(
                    "replaced by container {} of the same pod, namespace and container name after {}",
                    new.id,
                    after()
                )),
                None => Look::Wait,
            }
        }
    }
}

impl Experiments {
    /// After a kill: how long until the container runs again (see the
    /// module doc); `end` is the experiment's.
    pub(super) async fn watch_recovery(
        self: Arc<Self>,
        run: Arc<Run>,
        killed: Running,
        end: SystemTime,
    ) {
        let start = tokio::time::Instant::now();
        let mut cancel = run.cancel.subscribe();
        while start.elapsed() < RECOVERY_WATCH {
            if !killed.is_own() && SystemTime::now() >= end {
                let msg = format!(
                    "not running again by the experiment's end ({} did not start it again)",
                    killed.origin
                );
                run.event("recovered", Some(&killed.name), None, Some(msg));
                return;
            }
            if !sleep_for(Duration::from_millis(20), &mut cancel).await {
                return;
            }
            match look(&*self.source, &killed, start.elapsed()).await {
                Look::Wait => {}
                Look::Recovered(msg) => {
                    run.event("recovered", Some(&killed.name), None, Some(msg));
                    return;
                }
                Look::Survived(msg) => {
                    run.event("survived", Some(&killed.name), None, Some(msg));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::fake::{running, Fake};
    use crate::targets::JOLTD;

    fn pod(id: &str, pid: i32, pod: &str) -> Running {
        let mut r = running(id, "containerd/k8s.io", pid);
        r.annotations.extend([
            ("io.kubernetes.cri.sandbox-namespace".into(), "shop".into()),
            ("io.kubernetes.cri.sandbox-name".into(), pod.into()),
            ("io.kubernetes.cri.container-name".into(), "web".into()),
        ]);
        r
    }

    const SOON: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn a_new_init_of_the_same_container_is_a_recovery() {
        let fake = Fake::default();
        let killed = running("c1", "podman", 4_000_001);
        *fake.running.lock().unwrap() = vec![running("c1", "podman", 4_000_002)];
        let got = look(&fake, &killed, SOON).await;
        assert_eq!(got, Look::Recovered("running again after 0.100 s".into()));
    }

    #[tokio::test]
    async fn kubelets_new_container_of_the_same_workload_is_a_recovery() {
        let fake = Fake::default();
        let killed = pod("old", 4_000_001, "web-1");
        *fake.running.lock().unwrap() = vec![pod("other", 4_000_003, "web-2")];
        assert_eq!(look(&fake, &killed, SOON).await, Look::Wait, "another pod");
        fake.running
            .lock()
            .unwrap()
            .push(pod("new", 4_000_002, "web-1"));
        let Look::Recovered(msg) = look(&fake, &killed, SOON).await else {
            panic!("not recovered");
        };
        assert!(
            msg.starts_with("replaced by container new of the same pod"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn a_foreign_container_gone_or_stopped_may_come_back_joltds_removed_does_not() {
        let fake = Fake::default();
        let foreign = running("c1", "containerd/default", 4_000_001);
        assert_eq!(look(&fake, &foreign, SOON).await, Look::Wait);
        fake.seen.lock().unwrap().insert("c1".into(), Seen::Down);
        assert_eq!(look(&fake, &foreign, SOON).await, Look::Wait);
        let own = running("j1", JOLTD, 4_000_001);
        assert_eq!(
            look(&fake, &own, SOON).await,
            Look::Recovered("the container was removed".into())
        );
        fake.seen.lock().unwrap().insert("j1".into(), Seen::Exited);
        assert_eq!(
            look(&fake, &own, SOON).await,
            Look::Recovered("exited; its restart policy does not bring it back".into())
        );
        fake.seen.lock().unwrap().insert("j1".into(), Seen::Down);
        assert_eq!(look(&fake, &own, SOON).await, Look::Wait, "restarting");
    }

    #[tokio::test]
    async fn the_same_live_init_after_a_while_survived() {
        let fake = Fake::default();
        let me = std::process::id() as i32;
        let killed = running("c1", "podman", me);
        *fake.running.lock().unwrap() = vec![killed.clone()];
        assert_eq!(look(&fake, &killed, SOON).await, Look::Wait);
        assert!(matches!(
            look(&fake, &killed, SURVIVAL).await,
            Look::Survived(_)
        ));
    }
}
