//! subgroup: the cgroup directories `jolt exec` puts its process in —
//! the container's own, or the existing sub-cgroups `--cgroup` names in
//! runc's syntax: `PATH` for every hierarchy, `CONTROLLERS:PATH` (v1, e.g.
//! `cpu,cpuacct:sub` or `memory:sub`) for the hierarchies holding those
//! controllers, the PATH relative to the container's cgroup. Pure: the
//! caller checks that the directories exist.

use std::path::{Component, Path, PathBuf};

use super::CgroupError;

/// One `--cgroup` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubCgroup {
    /// The argument as given, for messages.
    arg: String,
    /// None: every hierarchy.
    controllers: Option<Vec<String>>,
    path: PathBuf,
}

/// Parses the `--cgroup` arguments. On a unified (v2) host there is one
/// hierarchy: a controller prefix is refused, as runc refuses it.
pub fn parse(args: &[String], unified: bool) -> Result<Vec<SubCgroup>, CgroupError> {
    let mut subs: Vec<SubCgroup> = Vec::new();
    for arg in args {
        let bad = |reason: &str| CgroupError::ExecCgroup {
            arg: arg.clone(),
            reason: reason.to_string(),
        };
        let (controllers, path) = match arg.split_once(':') {
            Some((c, p)) => {
                let c: Vec<String> = c
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect();
                (if c.is_empty() { None } else { Some(c) }, p)
            }
            None => (None, arg.as_str()),
        };
        if unified && controllers.is_some() {
            return Err(bad(
                "cgroup v2 has one hierarchy: give --cgroup PATH, without controllers",
            ));
        }
        let path = Path::new(path.trim_start_matches('/'));
        if path.as_os_str().is_empty() {
            return Err(bad("the sub-cgroup path is empty"));
        }
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(bad(
                "the sub-cgroup path must stay inside the container's cgroup (no '..')",
            ));
        }
        let clash = subs.iter().any(|s| match (&s.controllers, &controllers) {
            (None, None) => true,
            (Some(a), Some(b)) => a.iter().any(|c| b.contains(c)),
            _ => false,
        });
        if clash {
            return Err(bad("another --cgroup already names this hierarchy"));
        }
        subs.push(SubCgroup {
            arg: arg.clone(),
            controllers,
            path: path.to_path_buf(),
        });
    }
    Ok(subs)
}

/// The directories to join: each of the container's `dirs` (as
/// `CgroupManager::host_dirs` names them: "cpu,cpuacct", "memory", "" on
/// v2) with the sub-cgroup an argument names for it, a controller-specific
/// one before one for every hierarchy. A controller no hierarchy holds is
/// an error.
pub fn apply(
    dirs: &[(String, PathBuf)],
    subs: &[SubCgroup],
) -> Result<Vec<(String, PathBuf)>, CgroupError> {
    for sub in subs {
        for c in sub.controllers.iter().flatten() {
            if !dirs.iter().any(|(name, _)| name.split(',').any(|n| n == c)) {
                return Err(CgroupError::ExecCgroup {
                    arg: sub.arg.clone(),
                    reason: format!("no cgroup hierarchy of the container holds controller {c:?}"),
                });
            }
        }
    }
    let every = subs.iter().find(|s| s.controllers.is_none());
    Ok(dirs
        .iter()
        .map(|(name, dir)| {
            let own = subs.iter().find(|s| {
                s.controllers
                    .iter()
                    .flatten()
                    .any(|c| name.split(',').any(|n| n == c))
            });
            match own.or(every) {
                Some(sub) => (name.clone(), dir.join(&sub.path)),
                None => (name.clone(), dir.clone()),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn v1_dirs() -> Vec<(String, PathBuf)> {
        ["cpu,cpuacct", "memory", "pids"]
            .iter()
            .map(|n| (n.to_string(), PathBuf::from(format!("/cg/{n}/jolt/c"))))
            .collect()
    }

    #[test]
    fn a_path_alone_applies_to_every_hierarchy_and_a_prefix_to_its_own() {
        let subs = parse(&args(&["/all", "memory:mem/sub"]), false).unwrap();
        let dirs = apply(&v1_dirs(), &subs).unwrap();
        assert_eq!(
            dirs.iter()
                .map(|(_, d)| d.to_str().unwrap())
                .collect::<Vec<_>>(),
            [
                "/cg/cpu,cpuacct/jolt/c/all",
                "/cg/memory/jolt/c/mem/sub",
                "/cg/pids/jolt/c/all"
            ]
        );
    }

    #[test]
    fn one_controller_of_a_joint_hierarchy_names_it() {
        let subs = parse(&args(&["cpuacct:x"]), false).unwrap();
        let dirs = apply(&v1_dirs(), &subs).unwrap();
        assert_eq!(dirs[0].1, PathBuf::from("/cg/cpu,cpuacct/jolt/c/x"));
        assert_eq!(dirs[1].1, PathBuf::from("/cg/memory/jolt/c"));
    }

    #[test]
    fn v2_takes_a_path_and_refuses_a_controller() {
        let dirs = vec![(String::new(), PathBuf::from("/sys/fs/cgroup/jolt/c"))];
        let subs = parse(&args(&["sub"]), true).unwrap();
        assert_eq!(
            apply(&dirs, &subs).unwrap()[0].1,
            PathBuf::from("/sys/fs/cgroup/jolt/c/sub")
        );
        let err = parse(&args(&["memory:sub"]), true).unwrap_err().to_string();
        assert!(
            err.starts_with("--cgroup \"memory:sub\": cgroup v2 has one hierarchy"),
            "{err}"
        );
    }

    #[test]
    fn escapes_empty_paths_clashes_and_unknown_controllers_are_refused() {
        for (a, why) in [
            (&["../up"][..], "no '..'"),
            (&["memory:"][..], "empty"),
            (&["a", "b"][..], "already names"),
            (&["cpu:a", "cpu,cpuacct:b"][..], "already names"),
        ] {
            let err = parse(&args(a), false).unwrap_err().to_string();
            assert!(err.contains(why), "{a:?}: {err}");
        }
        let subs = parse(&args(&["blkio:x"]), false).unwrap();
        let err = apply(&v1_dirs(), &subs).unwrap_err().to_string();
        assert!(err.contains("holds controller \"blkio\""), "{err}");
    }
}
