//! unit: the systemd driver's names, from runc's `slice:prefix:name` form
//! of `linux.cgroupsPath` — the container's scope unit, the slice it goes
//! in, and where that puts its cgroup. Pure.

use crate::cgroups::CgroupError;

/// The slice a container goes in when its cgroupsPath names none.
const DEFAULT_SLICE: &str = "system.slice";
/// The scope's prefix when config.json has no cgroupsPath (runc's is "runc").
const DEFAULT_PREFIX: &str = "jolt";
/// systemd's limit on a unit name, its ".scope" included.
const UNIT_NAME_MAX: usize = 255;

/// A container's scope unit and its slice, e.g. `jolt-web.scope` in
/// `system.slice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The slice unit, e.g. "system.slice" or "machine-web.slice".
    pub slice: String,
    /// The scope unit, e.g. "jolt-web.scope".
    pub unit: String,
}

impl Scope {
    /// Parses `linux.cgroupsPath` as runc does under `--systemd-cgroup`:
    /// "slice:prefix:name" gives the unit "prefix-name.scope" in "slice"
    /// (an empty slice is system.slice; an empty prefix gives "name.scope");
    /// no cgroupsPath gives "jolt-<id>.scope" in system.slice. A name that
    /// is itself a slice (runc's way of naming the container's parent) is
    /// refused: jolt makes scopes only.
    pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Scope, CgroupError> {
        let raw = cgroups_path.unwrap_or("");
        let invalid = |reason: String| CgroupError::InvalidPath {
            path: raw.to_string(),
            reason,
        };
        let (slice, prefix, name) = if raw.is_empty() {
            ("", DEFAULT_PREFIX, id)
        } else {
            let parts: Vec<&str> = raw.split(':').collect();
            let [slice, prefix, name] = parts[..] else {
                return Err(invalid(
                    "under --systemd-cgroup it must be of the form slice:prefix:name \
                     (e.g. system.slice:jolt:web)"
                        .into(),
                ));
            };
            (slice, prefix, name)
        };
        if name.is_empty() {
            return Err(invalid("the name part is empty".into()));
        }
        if name.ends_with(".slice") {
            return Err(invalid(format!(
                "{name} is a slice; jolt runs each container in a scope of its own \
                 (name it without .slice)"
            )));
        }
        let unit = if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        check_unit_name(&unit).map_err(|reason| invalid(format!("unit {unit}: {reason}")))?;
        let slice = if slice.is_empty() {
            DEFAULT_SLICE
        } else {
            slice
        };
        expand_slice(slice).map_err(|reason| invalid(format!("slice {slice}: {reason}")))?;
        Ok(Scope {
            slice: slice.to_string(),
            unit,
        })
    }

    /// The other way round: the scope whose cgroup is at `path` (relative
    /// to the hierarchy's root, as [`Scope::path`] made it).
    pub fn from_path(path: &str) -> Result<Scope, CgroupError> {
        let invalid = |reason: &str| CgroupError::InvalidPath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let mut components = path.rsplit('/');
        let unit = components
            .next()
            .filter(|u| u.ends_with(".scope"))
            .ok_or_else(|| invalid("is not the cgroup of a systemd scope"))?;
        let slice = components.next().unwrap_or("-.slice");
        Ok(Scope {
            slice: slice.to_string(),
            unit: unit.to_string(),
        })
    }

    /// The scope's cgroup relative to the hierarchy's root, e.g.
    /// "system.slice/jolt-web.scope".
    pub fn path(&self) -> String {
        let slice = expand_slice(&self.slice).expect("checked by parse");
        if slice.is_empty() {
            self.unit.clone()
        } else {
            format!("{slice}/{}", self.unit)
        }
    }
}

/// The cgroup path of a slice, as systemd nests slices by their dashes:
/// "a-b-c.slice" is "a.slice/a-b.slice/a-b-c.slice"; "-.slice" (the root
/// slice) is "".
pub fn expand_slice(slice: &str) -> Result<String, String> {
    let Some(name) = slice.strip_suffix(".slice") else {
        return Err("a slice's name ends in .slice".into());
    };
    if slice.contains('/') {
        return Err("a slice's name cannot hold '/'".into());
    }
    if name == "-" {
        return Ok(String::new());
    }
    if name.is_empty() || name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err("dashes separate the names of nested slices, which cannot be empty".into());
    }
    check_unit_name(slice)?;
    let mut path = Vec::new();
    let mut prefix = String::new();
    for part in name.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path.join("/"))
}

/// systemd's rules for a unit name: at most 255 bytes of ASCII letters,
/// digits and ":-_.\" (jolt does not escape names for it).
fn check_unit_name(unit: &str) -> Result<(), String> {
    if unit.len() > UNIT_NAME_MAX {
        return Err(format!("longer than systemd's {UNIT_NAME_MAX} bytes"));
    }
    match unit
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":-_.\\".contains(*c)))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed in a systemd unit name (letters, digits and :-_.\\ are)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(path: Option<&str>) -> Result<(String, String, String), String> {
        Scope::parse(path, "web")
            .map(|s| (s.slice.clone(), s.unit.clone(), s.path()))
            .map_err(|e| e.to_string())
    }

    fn owned(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.into(), b.into(), c.into())
    }

    #[test]
    fn no_cgroups_path_is_jolt_id_scope_in_system_slice() {
        assert_eq!(
            scope(None).unwrap(),
            owned(
                "system.slice",
                "jolt-web.scope",
                "system.slice/jolt-web.scope"
            )
        );
    }

    #[test]
    fn slice_prefix_name_as_containerd_and_podman_write_it() {
        assert_eq!(
            scope(Some("system.slice:cri-containerd:abc")).unwrap(),
            owned(
                "system.slice",
                "cri-containerd-abc.scope",
                "system.slice/cri-containerd-abc.scope"
            )
        );
        assert_eq!(
            scope(Some("machine.slice:libpod:abc")).unwrap().2,
            "machine.slice/libpod-abc.scope"
        );
        assert_eq!(
            scope(Some("kubepods-besteffort-pod1.slice:cri-containerd:c1"))
                .unwrap()
                .2,
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-c1.scope"
        );
    }

    #[test]
    fn empty_parts_take_runcs_defaults() {
        assert_eq!(
            scope(Some(":jolt:x")).unwrap().2,
            "system.slice/jolt-x.scope"
        );
        assert_eq!(scope(Some("user.slice::x")).unwrap().1, "x.scope");
        assert_eq!(scope(Some("-.slice:p:x")).unwrap().2, "p-x.scope");
    }

    #[test]
    fn bad_paths_are_refused_naming_what_is_wrong() {
        assert_eq!(
            scope(Some("/jolt/web")).unwrap_err(),
            "cgroupsPath \"/jolt/web\": under --systemd-cgroup it must be of the form \
             slice:prefix:name (e.g. system.slice:jolt:web)"
        );
        assert!(scope(Some("system.slice:jolt:"))
            .unwrap_err()
            .contains("the name part is empty"));
        assert!(scope(Some("system:jolt:x"))
            .unwrap_err()
            .contains("slice system: a slice's name ends in .slice"));
        assert!(scope(Some("a--b.slice:jolt:x"))
            .unwrap_err()
            .contains("dashes"));
        assert!(scope(Some("a/b.slice:jolt:x")).unwrap_err().contains("'/'"));
        assert!(scope(Some("system.slice:jolt:x.slice"))
            .unwrap_err()
            .contains("is a slice"));
        assert!(scope(Some("system.slice:jolt:a b"))
            .unwrap_err()
            .contains("' ' is not allowed"));
        let long = format!("system.slice:jolt:{}", "x".repeat(250));
        assert!(scope(Some(&long)).unwrap_err().contains("255 bytes"));
    }

    #[test]
    fn the_path_gives_back_the_scope() {
        for path in [None, Some("a-b.slice:p:x"), Some("-.slice:p:x")] {
            let scope = Scope::parse(path, "web").unwrap();
            let back = Scope::from_path(&scope.path()).unwrap();
            assert_eq!(back.unit, scope.unit);
        }
        assert_eq!(
            Scope::from_path("system.slice/jolt-web.scope")
                .unwrap()
                .slice,
            "system.slice"
        );
        assert!(Scope::from_path("jolt/web").is_err());
    }
}
