//! v2: what the unified hierarchy needs beyond the shared core: its one
//! directory, cgroup.kill, the eBPF device filter, and the memory values
//! cgroups-rs writes differently from runc.

use std::path::{Path, PathBuf};

use cgroups_rs::fs::hierarchies;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::{Cgroupfs, Hierarchy};
use crate::cgroups::placement::Located;
use crate::cgroups::CgroupError;

/// cgroup v2, the unified hierarchy.
#[derive(Debug)]
pub struct V2;

impl V2 {
    fn dir(cg: &Cgroupfs<V2>) -> PathBuf {
        Path::new(hierarchies::UNIFIED_MOUNTPOINT).join(&cg.path)
    }

    fn lift_memory_limits(
        cg: &Cgroupfs<V2>,
        resources: &LinuxResources,
    ) -> Result<(), CgroupError> {
        let Some(memory) = resources.memory() else {
            return Ok(());
        };
        let dir = V2::dir(cg);
        for (value, file) in [
            (memory.limit(), "memory.max"),
            (memory.swap(), "memory.swap.max"),
        ] {
            let path = dir.join(file);
            if value == Some(-1) && path.exists() {
                std::fs::write(&path, "max").map_err(|err| CgroupError::Io {
                    path: cg.path.clone(),
                    what: format!("{file}: write max"),
                    err,
                })?;
            }
        }
        Ok(())
    }

    /// `linux.resources.unified` (keys checked by `resources::check`). A
    /// file that cannot be opened is named with its cause: a controller not
    /// enabled for the cgroup (not in its cgroup.controllers) says so.
    fn write_unified(cg: &Cgroupfs<V2>, resources: &LinuxResources) -> Result<(), CgroupError> {
        let dir = V2::dir(cg);
        for (key, value) in resources.unified().iter().flatten() {
            let Err((_, _, err)) = super::write_file(&dir, key, value.clone()) else {
                continue;
            };
            let controller = key.split('.').next().unwrap_or_default();
            let enabled =
                std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
            if controller != "cgroup" && !enabled.split_whitespace().any(|c| c == controller) {
                return Err(CgroupError::InvalidResources {
                    path: cg.path.clone(),
                    field: "unified",
                    reason: format!(
                        "{key:?}: the {controller} controller is not enabled for this cgroup \
                         (not in its cgroup.controllers)"
                    ),
                });
            }
            return Err(CgroupError::Io {
                path: cg.path.clone(),
                what: format!("linux.resources.unified: {key}: write {value:?}"),
                err,
            });
        }
        Ok(())
    }
}

impl Hierarchy for V2 {
    const UNIFIED: bool = true;
    const DEVICES_CONTROLLER: bool = false;
    /// The device rules, compiled into an eBPF program once checked.
    type Devices = Vec<LinuxDeviceCgroup>;

    fn host_dirs(cg: &Cgroupfs<V2>) -> Vec<(String, PathBuf)> {
        vec![(String::new(), V2::dir(cg))]
    }

    fn procs_dir(cg: &Cgroupfs<V2>) -> Option<PathBuf> {
        Some(V2::dir(cg))
    }

    fn freezer_file(cg: &Cgroupfs<V2>) -> Option<PathBuf> {
        Some(crate::cgroups::freezer::file(Located::V2(V2::dir(cg))))
    }

    /// cgroup.freeze is this cgroup's own request; cgroup.events' "frozen
    /// 1" is the effective state, a frozen parent's included.
    fn frozen(cg: &Cgroupfs<V2>) -> Result<bool, CgroupError> {
        let dir = V2::dir(cg);
        let read = |name: &str| {
            let file = dir.join(name);
            std::fs::read_to_string(&file).map_err(|e| cg.io_error(&file, "read", e))
        };
        let asked = read("cgroup.freeze")?.trim() == "1";
        Ok(asked || read("cgroup.events")?.lines().any(|l| l == "frozen 1"))
    }

    /// cgroups-rs writes memory.swap.max = 0 on v2 when only a limit is
    /// given, which forbids swap; runc leaves it alone. "max" is what a new
    /// cgroup has, and what v1 does with memory.memsw.
    fn adjust(resources: &mut LinuxResources) {
        if let Some(memory) = resources.memory_mut() {
            if memory.limit().unwrap_or(0) > 0 && memory.swap().is_none() {
                memory.set_swap(Some(-1));
            }
        }
    }

    /// Checked (compiled) now, attached once the directory exists.
    fn devices(
        _path: &str,
        rules: Vec<LinuxDeviceCgroup>,
    ) -> Result<Vec<LinuxDeviceCgroup>, CgroupError> {
        crate::devices::compile(&rules)?;
        Ok(rules)
    }

    fn attach_devices(
        cg: &Cgroupfs<V2>,
        rules: &Vec<LinuxDeviceCgroup>,
    ) -> Result<(), CgroupError> {
        Ok(crate::devices::attach(&V2::dir(cg), rules)?)
    }

    /// A memory or swap limit of -1 ("no limit"): cgroups-rs writes nothing
    /// when both are -1 or 0, so a lifted limit would stay; write "max", as
    /// runc does. Then `unified`, each key to the file of that name,
    /// overriding what the fields above wrote (as with runc).
    fn after_apply(cg: &Cgroupfs<V2>, resources: &LinuxResources) -> Result<(), CgroupError> {
        V2::lift_memory_limits(cg, resources)?;
        V2::write_unified(cg, resources)
    }

    fn missing(controller: &str) -> String {
        format!(
            "the {controller} controller is not available \
             (not listed in {}/cgroup.controllers)",
            hierarchies::UNIFIED_MOUNTPOINT
        )
    }
}
