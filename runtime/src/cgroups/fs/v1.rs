//! v1: what cgroup v1 (one directory per mounted hierarchy, as on hybrid
//! hosts) needs beyond the shared core: the directories, which hierarchy
//! lists the members, and the devices.allow/deny rules.

use std::path::{Path, PathBuf};

use cgroups_rs::fs::devices::{DevicePermissions, DeviceType, DevicesController};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::{Cgroupfs, Hierarchy};
use crate::cgroups::placement::Located;
use crate::cgroups::{CgroupError, HYBRID_UNIFIED};

/// The cgroup2 mount of a hybrid host, if this host is one: runc puts a
/// container in it too, and so does jolt (systemd and tools that read only
/// the unified hierarchy then see the container's processes together).
fn hybrid_unified_root() -> Option<&'static Path> {
    static ROOT: std::sync::OnceLock<Option<&'static Path>> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| {
        let root = Path::new("/sys/fs/cgroup/unified");
        let is_cgroup2 = nix::sys::statfs::statfs(root)
            .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
        is_cgroup2.then_some(root)
    })
}

/// cgroup v1.
#[derive(Debug)]
pub struct V1;

/// One rule for a v1 devices cgroup (devices.allow or devices.deny).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub typ: DeviceType,
    /// -1 is the wildcard `*`, as cgroups-rs writes it.
    pub major: i64,
    pub minor: i64,
    pub access: Vec<DevicePermissions>,
}

impl Hierarchy for V1 {
    const UNIFIED: bool = false;
    const DEVICES_CONTROLLER: bool = true;
    type Devices = Vec<DeviceRule>;

    fn host_dirs(cg: &Cgroupfs<V1>) -> Vec<(String, PathBuf)> {
        let depth = Path::new(&cg.path).components().count();
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        for subsystem in cg.cgroup.subsystems() {
            let dir = subsystem.to_controller().path();
            if dirs.iter().any(|(_, d)| d == dir) {
                continue;
            }
            let name = dir
                .ancestors()
                .nth(depth)
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| subsystem.controller_name());
            dirs.push((name, dir.to_path_buf()));
        }
        if let Some(root) = hybrid_unified_root() {
            dirs.push((HYBRID_UNIFIED.to_string(), root.join(&cg.path)));
        }
        dirs
    }

    /// freezer.state in the freezer hierarchy, if one is mounted.
    fn freezer_file(cg: &Cgroupfs<V1>) -> Option<PathBuf> {
        cg.cgroup
            .subsystems()
            .iter()
            .find(|s| s.controller_name() == "freezer")
            .map(|s| {
                crate::cgroups::freezer::file(Located::V1(s.to_controller().path().to_path_buf()))
            })
    }

    /// The freezer's, else the pids', else the memory hierarchy's.
    fn procs_dir(cg: &Cgroupfs<V1>) -> Option<PathBuf> {
        let subsystems = cg.cgroup.subsystems();
        ["freezer", "pids", "memory"]
            .iter()
            .find_map(|name| subsystems.iter().find(|s| s.controller_name() == *name))
            .or_else(|| subsystems.first())
            .map(|s| s.to_controller().path().to_path_buf())
    }

    /// freezer.state of the freezer hierarchy reads FREEZING or FROZEN
    /// when this cgroup or a parent is frozen; no freezer, nothing frozen.
    fn frozen(cg: &Cgroupfs<V1>) -> Result<bool, CgroupError> {
        let Some(freezer) = cg
            .cgroup
            .subsystems()
            .iter()
            .find(|s| s.controller_name() == "freezer")
            .map(|s| s.to_controller().path().join("freezer.state"))
        else {
            return Ok(false);
        };
        let state =
            std::fs::read_to_string(&freezer).map_err(|e| cg.io_error(&freezer, "read", e))?;
        Ok(state.trim() != "THAWED")
    }

    fn adjust(_: &mut LinuxResources) {}

    fn devices(path: &str, rules: Vec<LinuxDeviceCgroup>) -> Result<Vec<DeviceRule>, CgroupError> {
        rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                device_rule(rule).map_err(|reason| CgroupError::InvalidResources {
                    path: path.to_string(),
                    field: "devices",
                    reason: format!("rule {index}: {reason}"),
                })
            })
            .collect()
    }

    fn attach_devices(cg: &Cgroupfs<V1>, devices: &Vec<DeviceRule>) -> Result<(), CgroupError> {
        let controller = cg
            .cgroup
            .controller_of::<DevicesController>()
            .ok_or_else(|| cg.missing("devices", "devices"))?;
        for rule in devices {
            let written = if rule.allow {
                controller.allow_device(rule.typ, rule.major, rule.minor, &rule.access)
            } else {
                controller.deny_device(rule.typ, rule.major, rule.minor, &rule.access)
            };
            written.map_err(|e| cg.fs_error("devices", e))?;
        }
        Ok(())
    }

    fn after_apply(_: &Cgroupfs<V1>, _: &LinuxResources) -> Result<(), CgroupError> {
        Ok(())
    }

    fn missing(controller: &str) -> String {
        format!(
            "the {controller} controller is not available (no {controller} hierarchy is mounted)"
        )
    }
}

/// Converts one config rule. cgroups-rs's own conversion writes a missing
/// major or minor as 0 instead of the wildcard `*`, so "c *:* m" would
/// become "c 0:0 m". A missing access means all of "rwm" (the kernel
/// rejects an empty one).
pub(crate) fn device_rule(rule: &LinuxDeviceCgroup) -> Result<DeviceRule, String> {
    let kind = rule.typ().unwrap_or_default();
    let typ = DeviceType::from_char(kind.as_str().chars().next())
        .ok_or_else(|| format!("type {:?} is not one of a, b, c", kind.as_str()))?;
    let access = rule.access().as_deref().unwrap_or("rwm");
    let access = if access.is_empty() { "rwm" } else { access };
    let access = access
        .chars()
        .map(|c| {
            DevicePermissions::from_char(c)
                .ok_or_else(|| format!("access {access:?} may hold only r, w and m"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let number = |n: Option<i64>, what| match n {
        None | Some(-1) => Ok(-1),
        Some(n) if n >= 0 => Ok(n),
        Some(n) => Err(format!("{what} {n} is negative")),
    };
    Ok(DeviceRule {
        allow: rule.allow(),
        typ,
        major: number(rule.major(), "major")?,
        minor: number(rule.minor(), "minor")?,
        access,
    })
}
