//! resources: the checks on `linux.resources` that hold for both cgroup
//! versions, made before anything is created, and which controllers a
//! resources section needs. Checked here because cgroups-rs reports these
//! only as "invalid linux resource", or not at all.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use crate::cgroups::CgroupError;

/// Checks `resources` for the cgroup at `path` and splits off the device
/// rules, with the devices runc allows every container appended (see
/// `devices::with_defaults`); None when the config has no device rule.
pub(super) fn check(
    path: &str,
    resources: &LinuxResources,
) -> Result<(LinuxResources, Option<Vec<LinuxDeviceCgroup>>), CgroupError> {
    let invalid = |field, reason: String| {
        Err(CgroupError::InvalidResources {
            path: path.to_string(),
            field,
            reason,
        })
    };
    let mut rest = resources.clone();

    if let Some(memory) = rest.memory() {
        let limit = memory.limit().unwrap_or(0);
        let swap = memory.swap().unwrap_or(0);
        if swap > 0 && limit > 0 && swap < limit {
            return invalid(
                "memory.swap",
                format!(
                    "{swap} is below memory.limit {limit}: it limits memory plus swap, \
                     so it must be at least the limit (or -1 for no limit)"
                ),
            );
        }
        if swap > 0 && limit == 0 {
            return invalid(
                "memory.swap",
                "a memory plus swap limit needs memory.limit as well".into(),
            );
        }
        if let Some(swappiness) = memory.swappiness().filter(|&s| s > 100) {
            return invalid("memory.swappiness", format!("{swappiness} is above 100"));
        }
    }
    for key in rest.unified().iter().flatten().map(|(k, _)| k) {
        if key.contains('/') || key.contains('\0') {
            return invalid(
                "unified",
                format!("{key:?} must be a file name (no slashes)"),
            );
        }
        if key
            .find('.')
            .is_none_or(|dot| dot == 0 || dot == key.len() - 1)
        {
            return invalid(
                "unified",
                format!("{key:?} must be in the form CONTROLLER.PARAMETER"),
            );
        }
    }
    if rest.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        return invalid("rdma", "not supported by jolt yet".into());
    }

    let rules = rest.devices_mut().take().unwrap_or_default();
    if rules.is_empty() {
        return Ok((rest, None));
    }
    Ok((rest, Some(crate::devices::with_defaults(&rules))))
}

/// The controllers `resources` needs, each with the field that asks for
/// it; `devices` when there are device rules. Any `cpu` section needs both
/// cpu and cpuset (cgroups-rs writes both).
pub(super) fn controllers_needed(
    resources: &LinuxResources,
    devices: bool,
) -> Vec<(&'static str, &'static str)> {
    let network = resources.network().as_ref();
    let wanted = [
        ("memory", "memory", resources.memory().is_some()),
        ("cpu", "cpu", resources.cpu().is_some()),
        ("cpu", "cpuset", resources.cpu().is_some()),
        ("pids", "pids", resources.pids().is_some()),
        ("blockIO", "blkio", resources.block_io().is_some()),
        (
            "hugepageLimits",
            "hugetlb",
            resources
                .hugepage_limits()
                .as_ref()
                .is_some_and(|l| !l.is_empty()),
        ),
        (
            "network.classID",
            "net_cls",
            network.is_some_and(|n| n.class_id().is_some()),
        ),
        (
            "network.priorities",
            "net_prio",
            network.is_some_and(|n| n.priorities().is_some()),
        ),
        ("devices", "devices", devices),
    ];
    wanted
        .into_iter()
        .filter(|(_, _, wanted)| *wanted)
        .map(|(field, controller, _)| (field, controller))
        .collect()
}
