//! namespaces: which namespaces a container creates and which it joins.
//!
//! The plan is pure (built from `linux.namespaces`); the functions below it
//! make the calls. Joining happens first (the user namespace before the
//! others, the mount namespace last, since entering it changes what paths
//! mean), then a new user namespace, then every other new namespace in one
//! unshare. A new pid (or time) namespace only applies to children, which is
//! why the container's init is a child of the process that unshares.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType};

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("{kind} namespace {path}: {}", crate::os_text(err))]
    Join {
        kind: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("unshare {what}: {source}")]
    Unshare { what: String, source: nix::Error },
    #[error("writing {file} for pid {pid}: {}", crate::os_text(err))]
    Mapping {
        file: &'static str,
        pid: i32,
        err: io::Error,
    },
}

/// What to join and what to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Namespaces to join, in the order to join them.
    pub join: Vec<(CloneFlags, PathBuf)>,
    /// Whether to create a user namespace (before anything else is made).
    pub new_user: bool,
    /// The other namespaces to create, in one unshare.
    pub unshare: CloneFlags,
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

fn name(f: CloneFlags) -> &'static str {
    const NAMES: &[(i32, &str)] = &[
        (libc::CLONE_NEWNS, "mount"),
        (libc::CLONE_NEWCGROUP, "cgroup"),
        (libc::CLONE_NEWUTS, "uts"),
        (libc::CLONE_NEWIPC, "ipc"),
        (libc::CLONE_NEWUSER, "user"),
        (libc::CLONE_NEWPID, "pid"),
        (libc::CLONE_NEWNET, "network"),
        (libc::CLONE_NEWTIME, "time"),
    ];
    NAMES
        .iter()
        .find(|(bit, _)| f.bits() == *bit)
        .map_or("unknown", |(_, n)| n)
}

/// Order in which joined namespaces are entered.
fn join_rank(f: CloneFlags) -> u8 {
    if f == CloneFlags::CLONE_NEWUSER {
        0
    } else if f == CloneFlags::CLONE_NEWNS {
        2
    } else {
        1
    }
}

pub fn plan(linux: &Linux) -> Plan {
    let mut plan = Plan {
        join: Vec::new(),
        new_user: false,
        unshare: CloneFlags::empty(),
    };
    for ns in linux.namespaces().iter().flatten() {
        let f = flag(ns.typ());
        match ns.path() {
            Some(path) => plan.join.push((f, path.clone())),
            None if f == CloneFlags::CLONE_NEWUSER => plan.new_user = true,
            None => plan.unshare |= f,
        }
    }
    plan.join.sort_by_key(|(f, _)| join_rank(*f));
    plan
}

/// What `jolt exec` joins: every namespace kind config.json names (new or
/// joined), as the container's init has it at /proc/PID/ns, in joining
/// order. It creates nothing.
pub fn of_init(pid: i32, linux: &Linux) -> Plan {
    let proc_name = |f: CloneFlags| match name(f) {
        "mount" => "mnt",
        "network" => "net",
        other => other,
    };
    let mut join: Vec<(CloneFlags, PathBuf)> = linux
        .namespaces()
        .iter()
        .flatten()
        .map(|ns| flag(ns.typ()))
        .map(|f| (f, PathBuf::from(format!("/proc/{pid}/ns/{}", proc_name(f)))))
        .collect();
    join.sort_by_key(|(f, _)| join_rank(*f));
    join.dedup_by_key(|(f, _)| *f);
    Plan {
        join,
        new_user: false,
        unshare: CloneFlags::empty(),
    }
}

impl Plan {
    /// Whether the container gets a namespace of this kind, new or joined.
    pub fn has(&self, f: CloneFlags) -> bool {
        self.unshare.contains(f)
            || (f == CloneFlags::CLONE_NEWUSER && self.new_user)
            || self.join.iter().any(|(j, _)| *j == f)
    }

    /// Opens every namespace to join, before any is entered: once the mount
    /// namespace changes, the paths mean something else.
    pub fn open_joins(&self) -> Result<Vec<(CloneFlags, PathBuf, File)>, NamespaceError> {
        self.join
            .iter()
            .map(|(f, path)| {
                File::open(path)
                    .map(|file| (*f, path.clone(), file))
                    .map_err(|err| NamespaceError::Join {
                        kind: name(*f),
                        path: path.clone(),
                        err,
                    })
            })
            .collect()
    }

    /// Creates every new namespace except the user namespace (made first,
    /// by `unshare_user`) and the cgroup namespace (made last, by
    /// `unshare_cgroup`, once the process is in its cgroup, since that
    /// cgroup becomes the namespace's root).
    pub fn unshare_rest(&self) -> Result<(), NamespaceError> {
        self.unshare_flags(self.unshare - CloneFlags::CLONE_NEWCGROUP)
    }

    pub fn unshare_cgroup(&self) -> Result<(), NamespaceError> {
        self.unshare_flags(self.unshare & CloneFlags::CLONE_NEWCGROUP)
    }

    fn unshare_flags(&self, flags: CloneFlags) -> Result<(), NamespaceError> {
        if flags.is_empty() {
            return Ok(());
        }
        unshare(flags).map_err(|source| NamespaceError::Unshare {
            what: describe(flags),
            source,
        })
    }
}

/// Enters namespaces opened by `open_joins`, in order.
pub fn join(opened: &[(CloneFlags, PathBuf, File)]) -> Result<(), NamespaceError> {
    for (f, path, file) in opened {
        setns(file.as_fd(), *f).map_err(|e| NamespaceError::Join {
            kind: name(*f),
            path: path.clone(),
            err: e.into(),
        })?;
    }
    Ok(())
}

pub fn unshare_user() -> Result<(), NamespaceError> {
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|source| NamespaceError::Unshare {
        what: "user".into(),
        source,
    })
}

fn describe(flags: CloneFlags) -> String {
    flags.iter().map(name).collect::<Vec<_>>().join(", ")
}

/// The text of a uid_map or gid_map file.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes the id maps of `pid`'s user namespace, gid_map first. With
/// `deny_setgroups`, /proc/PID/setgroups says "deny" before gid_map is
/// written: nobody in the namespace can then drop a group the host gave
/// it, a group that may stand in the way of a file (CVE-2014-8989). Only a
/// process that asks for supplementary groups needs setgroups allowed.
pub fn write_mappings(pid: i32, linux: &Linux, deny_setgroups: bool) -> Result<(), NamespaceError> {
    if deny_setgroups {
        match fs::write(format!("/proc/{pid}/setgroups"), "deny") {
            // Kernels before 3.19 have no such file, and no such hole.
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return Err(NamespaceError::Mapping {
                    file: "setgroups",
                    pid,
                    err,
                })
            }
            _ => {}
        }
    }
    let files = [
        ("gid_map", linux.gid_mappings()),
        ("uid_map", linux.uid_mappings()),
    ];
    for (file, maps) in files {
        let text = map_text(maps.as_deref().unwrap_or_default());
        fs::write(format!("/proc/{pid}/{file}"), text).map_err(|err| NamespaceError::Mapping {
            file,
            pid,
            err,
        })?;
    }
    Ok(())
}

/// Maps a container uid to the host through the uid maps; identity without.
pub fn host_id(maps: Option<&[LinuxIdMapping]>, id: u32) -> Option<u32> {
    match maps {
        None | Some([]) => Some(id),
        Some(maps) => maps.iter().find_map(|m| {
            let off = id.checked_sub(m.container_id())?;
            (off < m.size()).then(|| m.host_id() + off)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(json: serde_json::Value) -> Linux {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn new_and_joined_are_separated_and_joins_are_ordered() {
        let l = linux(serde_json::json!({"namespaces": [
            {"type": "mount", "path": "/proc/1/ns/mnt"},
            {"type": "network", "path": "/run/netns/x"},
            {"type": "pid"},
            {"type": "user", "path": "/proc/1/ns/user"},
            {"type": "uts"}
        ]}));
        let p = plan(&l);
        let order: Vec<_> = p.join.iter().map(|(f, _)| name(*f)).collect();
        assert_eq!(order, ["user", "network", "mount"]);
        assert!(!p.new_user);
        assert_eq!(
            p.unshare,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUTS
        );
        assert!(p.has(CloneFlags::CLONE_NEWNET));
        assert!(!p.has(CloneFlags::CLONE_NEWIPC));
    }

    #[test]
    fn new_user_namespace_is_not_in_the_unshare_set() {
        let p = plan(&linux(serde_json::json!({"namespaces": [
            {"type": "user"}, {"type": "mount"}
        ]})));
        assert!(p.new_user);
        assert_eq!(p.unshare, CloneFlags::CLONE_NEWNS);
    }

    #[test]
    fn maps() {
        let maps: Vec<LinuxIdMapping> = serde_json::from_value(serde_json::json!([
            {"containerID": 0, "hostID": 100000, "size": 1000},
            {"containerID": 1000, "hostID": 2000, "size": 1}
        ]))
        .unwrap();
        assert_eq!(map_text(&maps), "0 100000 1000\n1000 2000 1\n");
        assert_eq!(host_id(Some(&maps), 0), Some(100000));
        assert_eq!(host_id(Some(&maps), 999), Some(100999));
        assert_eq!(host_id(Some(&maps), 1000), Some(2000));
        assert_eq!(host_id(Some(&maps), 1001), None);
        assert_eq!(host_id(None, 7), Some(7));
    }
}
