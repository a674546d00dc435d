//! placement: where a process's cgroup for one controller lives on this
//! host, read from /proc/PID/cgroup and /proc/self/mountinfo, whichever
//! driver made it (jolt's cgroupfs, a systemd scope, another runtime). Owns
//! the parsing of those two files and the choice between v1 and v2; writes
//! no cgroup file (the chaos faults find the containers they act on
//! through it).
//!
//! A host may be pure v2 (one cgroup2 mount holding every controller),
//! pure v1, or hybrid (v1 controllers plus a cgroup2 mount, often at
//! /sys/fs/cgroup/unified, that holds no controller). A controller is
//! taken from v2 only when the v2 hierarchy really has it.

use std::fs;
use std::path::{Path, PathBuf};

/// The lines of /proc/PID/cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Membership {
    /// The path of the `0::PATH` line (the unified hierarchy), if any.
    pub v2: Option<String>,
    /// `N:controllers:PATH` lines: the controllers (and `name=` entries) of
    /// each v1 hierarchy and the process's path in it.
    pub v1: Vec<(Vec<String>, String)>,
}

impl Membership {
    pub fn parse(text: &str) -> Membership {
        let mut m = Membership::default();
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if id == "0" && controllers.is_empty() {
                m.v2 = Some(path.to_string());
            } else {
                let list = controllers.split(',').map(str::to_string).collect();
                m.v1.push((list, path.to_string()));
            }
        }
        m
    }

    /// The process's directory in the hierarchy mounted at `mount`: the
    /// `0::` line for cgroup2, else the line whose controllers (or `name=`)
    /// the mount holds.
    pub fn dir_in(&self, mount: &Mount) -> Option<PathBuf> {
        let path = if mount.v2 {
            self.v2.as_deref()?
        } else {
            self.v1
                .iter()
                .find(|(list, _)| list.iter().any(|c| mount.options.contains(c)))
                .map(|(_, path)| path.as_str())?
        };
        dir_under(mount, path)
    }

    fn v1_path(&self, controller: &str) -> Option<&str> {
        self.v1
            .iter()
            .find(|(list, _)| list.iter().any(|c| c == controller))
            .map(|(_, path)| path.as_str())
    }
}

/// One cgroup or cgroup2 mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The path inside the hierarchy that is mounted (field 4).
    pub root: String,
    pub mount_point: PathBuf,
    /// True for cgroup2, false for a v1 hierarchy.
    pub v2: bool,
    /// The super options: for v1 they name the hierarchy's controllers.
    pub options: Vec<String>,
}

/// The cgroup and cgroup2 mounts of a mountinfo text, in order.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    crate::mountinfo::parse(text)
        .into_iter()
        .filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        .map(|m| Mount {
            v2: m.fs_type == "cgroup2",
            root: m.root,
            mount_point: m.mount_point,
            options: m.super_options,
        })
        .collect()
}

/// The cgroup mount whose hierarchy holds `dir`: the deepest mount point
/// `dir` is at or below.
pub fn mount_holding<'a>(mounts: &'a [Mount], dir: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| dir.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())
}

/// The directory of `path` (a /proc/PID/cgroup path) under `mount`, or
/// None when the mount does not show that part of the hierarchy.
fn dir_under(mount: &Mount, path: &str) -> Option<PathBuf> {
    let rest = if mount.root == "/" {
        path
    } else {
        let rest = path.strip_prefix(mount.root.as_str())?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return None;
        }
        rest
    };
    Some(mount.mount_point.join(rest.trim_start_matches('/')))
}

/// Where one controller of one process is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// The process's cgroup directory in the unified hierarchy.
    V2(PathBuf),
    /// The process's cgroup directory in the v1 hierarchy of the controller.
    V1(PathBuf),
}

/// A controller the faults and the agent's stats use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Cpu,
    /// CPU accounting: v1's cpuacct, v2's cpu (cpu.stat).
    Cpuacct,
    Freezer,
    Memory,
    Pids,
}

impl Controller {
    fn v1_name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Freezer => "freezer",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
        }
    }

    /// Its name in a v2 cgroup.controllers.
    fn v2_name(self) -> &'static str {
        match self {
            Controller::Cpuacct => "cpu",
            other => other.v1_name(),
        }
    }
}

/// Why a process's cgroup cannot be located.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("reading /proc/self/mountinfo: {0}")]
    Mountinfo(std::io::Error),
    #[error("init pid {pid} is gone ({file}: {err})")]
    Gone {
        pid: i32,
        file: String,
        err: std::io::Error,
    },
    #[error("no {0} controller holds it (cgroup v2 cgroup.controllers lacks {0}, and no v1 {0} hierarchy is mounted)")]
    NoController(&'static str),
    #[error(
        "no freezer holds it (no v1 freezer hierarchy, and its v2 cgroup has no cgroup.freeze)"
    )]
    NoFreezer,
    #[error("it is in the root cgroup ({}); jolt does not limit the whole host", .0.display())]
    RootCgroup(PathBuf),
    #[error("cgroup {} not found", .0.display())]
    NotFound(PathBuf),
}

/// The host's cgroup mounts and one process's membership.
pub struct View {
    pub mounts: Vec<Mount>,
    pub membership: Membership,
}

impl View {
    /// Reads /proc/self/mountinfo and /proc/PID/cgroup.
    pub fn of(pid: i32) -> Result<View, PlacementError> {
        let mountinfo =
            fs::read_to_string("/proc/self/mountinfo").map_err(PlacementError::Mountinfo)?;
        let file = format!("/proc/{pid}/cgroup");
        let membership =
            fs::read_to_string(&file).map_err(|err| PlacementError::Gone { pid, file, err })?;
        Ok(View {
            mounts: parse_mountinfo(&mountinfo),
            membership: Membership::parse(&membership),
        })
    }

    /// The process's directory in the unified (v2) hierarchy, if mounted.
    pub fn v2_dir(&self) -> Option<PathBuf> {
        let path = self.membership.v2.as_deref()?;
        self.mounts
            .iter()
            .filter(|m| m.v2)
            .find_map(|m| dir_under(m, path))
    }

    fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        let path = self.membership.v1_path(controller)?;
        self.mounts
            .iter()
            .filter(|m| !m.v2 && m.options.iter().any(|o| o == controller))
            .find_map(|m| dir_under(m, path))
    }

    /// Where `controller` is for this process. v2 for cpu only when the
    /// cgroup's cgroup.controllers lists cpu. The freezer is v1 wherever a
    /// v1 freezer hierarchy holds the process (on a hybrid host that is the
    /// freezer `runc pause` and `jolt pause` use, so "already paused" is
    /// seen), else v2 when the cgroup has cgroup.freeze.
    pub fn locate(&self, controller: Controller) -> Result<Located, PlacementError> {
        let v2 = self.v2_dir();
        let v1 = self.v1_dir(controller.v1_name());
        let found = match controller {
            Controller::Cpu | Controller::Cpuacct | Controller::Memory | Controller::Pids => {
                let name = controller.v1_name();
                let v2_name = controller.v2_name();
                let v2_has_it = v2.as_ref().is_some_and(|d| {
                    fs::read_to_string(d.join("cgroup.controllers"))
                        .is_ok_and(|c| c.split_whitespace().any(|c| c == v2_name))
                });
                match (v2, v1) {
                    (Some(d), _) if v2_has_it => Located::V2(d),
                    (_, Some(d)) => Located::V1(d),
                    _ => return Err(PlacementError::NoController(name)),
                }
            }
            Controller::Freezer => match (v1, v2) {
                (Some(d), _) => Located::V1(d),
                (_, Some(d)) if d.join("cgroup.freeze").exists() => Located::V2(d),
                _ => return Err(PlacementError::NoFreezer),
            },
        };
        let dir = match &found {
            Located::V1(d) | Located::V2(d) => d,
        };
        if self.mounts.iter().any(|m| m.mount_point == *dir) {
            return Err(PlacementError::RootCgroup(dir.clone()));
        }
        if !dir.is_dir() {
            return Err(PlacementError::NotFound(dir.clone()));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
6:freezer:/jolt/web
2:cpuacct:/
1:cpu:/jolt/web
0::/
";

    #[test]
    fn proc_cgroup_lines_are_split_into_v1_and_v2() {
        let m = Membership::parse(HYBRID_CGROUP);
        assert_eq!(m.v2.as_deref(), Some("/"));
        assert_eq!(m.v1_path("cpu"), Some("/jolt/web"));
        assert_eq!(m.v1_path("freezer"), Some("/jolt/web"));
        assert_eq!(m.v1_path("name=systemd"), Some("/"));
        assert_eq!(m.v1_path("memory"), None);

        let co = Membership::parse("4:cpu,cpuacct:/a:b\n0::/x\n");
        assert_eq!(co.v1_path("cpuacct"), Some("/a:b"), "colons in the path");
        assert_eq!(co.v2.as_deref(), Some("/x"));
    }

    #[test]
    fn mountinfo_keeps_cgroup_mounts_with_their_controllers() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        assert_eq!(mounts.len(), 5, "the tmpfs is not a cgroup mount");
        assert_eq!(mounts[0].mount_point, Path::new("/sys/fs/cgroup/cpu"));
        assert!(!mounts[0].v2);
        assert_eq!(mounts[0].options, ["rw", "cpu"]);
        assert!(mounts[4].v2);
        assert_eq!(mounts[4].mount_point, Path::new("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn v1_directories_follow_the_mount_and_its_root() {
        let view = View {
            mounts: parse_mountinfo(HYBRID_MOUNTINFO),
            membership: Membership::parse(HYBRID_CGROUP),
        };
        assert_eq!(
            view.v1_dir("cpu"),
            Some(PathBuf::from("/sys/fs/cgroup/cpu/jolt/web"))
        );
        assert_eq!(
            view.v1_dir("freezer"),
            Some(PathBuf::from("/sys/fs/cgroup/freezer/jolt/web"))
        );
        assert_eq!(view.v2_dir(), Some(PathBuf::from("/sys/fs/cgroup/unified")));

        // Inside a container the hierarchy is often mounted from a subtree.
        let nested = View {
            mounts: parse_mountinfo(
                "1 0 0:1 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
            ),
            membership: Membership::parse("0::/kubepods/pod1/c1\n"),
        };
        assert_eq!(nested.v2_dir(), Some(PathBuf::from("/sys/fs/cgroup/c1")));
        let outside = View {
            mounts: nested.mounts.clone(),
            membership: Membership::parse("0::/kubepods/pod10\n"),
        };
        assert_eq!(outside.v2_dir(), None, "a prefix of a name is not a parent");
    }

    #[test]
    fn a_directory_maps_to_its_hierarchy_and_a_process_to_its_dir_there() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        let freezer = mount_holding(&mounts, Path::new("/sys/fs/cgroup/freezer/jolt/web")).unwrap();
        assert_eq!(freezer.mount_point, Path::new("/sys/fs/cgroup/freezer"));
        let unified = mount_holding(&mounts, Path::new("/sys/fs/cgroup/unified/x")).unwrap();
        assert!(unified.v2);
        assert!(mount_holding(&mounts, Path::new("/tmp/x")).is_none());

        let member = Membership::parse(HYBRID_CGROUP);
        assert_eq!(
            member.dir_in(freezer),
            Some(PathBuf::from("/sys/fs/cgroup/freezer/jolt/web"))
        );
        assert_eq!(
            member.dir_in(unified),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let systemd = mount_holding(&mounts, Path::new("/sys/fs/cgroup/systemd")).unwrap();
        assert_eq!(
            member.dir_in(systemd),
            Some(PathBuf::from("/sys/fs/cgroup/systemd")),
            "by its name= line"
        );
        let blkio = Mount {
            root: "/".into(),
            mount_point: "/sys/fs/cgroup/blkio".into(),
            v2: false,
            options: vec!["rw".into(), "blkio".into()],
        };
        assert_eq!(member.dir_in(&blkio), None, "no blkio line");
    }

    #[test]
    fn escaped_mount_points_are_unescaped() {
        let mounts = parse_mountinfo("1 0 0:1 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n");
        assert_eq!(mounts[0].mount_point, Path::new("/mnt/my cgroups"));
    }

    #[test]
    fn the_root_cgroup_is_refused() {
        let view = View {
            mounts: parse_mountinfo(HYBRID_MOUNTINFO),
            membership: Membership::parse("6:freezer:/\n1:cpu:/\n0::/\n"),
        };
        let err = view.locate(Controller::Freezer).unwrap_err().to_string();
        assert!(err.contains("root cgroup"), "{err}");
    }
}
