//! volume: what a container mounts beyond its rootfs, as `chaosctl run`
//! asks: `--tmpfs PATH[:OPTIONS]` (a tmpfs of its own) and `-v
//! HOST:CTR[:ro|rw]` (a directory or file of the node, bound in). Owns
//! their syntax, the checks (absolute paths, no `..`, options tmpfs
//! knows; the host path must exist: it is never created on the node) and
//! the `mounts` entries of config.json.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One mount a request adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Mount {
    /// A tmpfs at `destination`, with its options (`size=64m`, `mode=1777`).
    Tmpfs {
        destination: PathBuf,
        options: Vec<String>,
    },
    /// The node's `source` bound at `destination`.
    Bind {
        source: PathBuf,
        destination: PathBuf,
        read_only: bool,
    },
}

/// The tmpfs options a `--tmpfs` may give: with a value, then flags.
const TMPFS_VALUES: [&str; 5] = ["size", "mode", "uid", "gid", "nr_inodes"];
const TMPFS_FLAGS: [&str; 8] = [
    "ro", "rw", "noexec", "exec", "nosuid", "suid", "nodev", "dev",
];

/// A path inside the container: absolute, not `/`, without `..`.
fn container_path(p: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(p);
    if !path.is_absolute() {
        return Err(format!("{p:?}: the path in the container must be absolute"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!("{p:?}: must not contain .."));
    }
    if path == Path::new("/") {
        return Err(format!("{p:?}: cannot mount over the container's root"));
    }
    Ok(path)
}

impl Mount {
    /// `PATH[:OPTIONS]`, OPTIONS comma-separated: `size=64m,mode=1777`.
    pub fn tmpfs(spec: &str) -> Result<Mount, String> {
        let (path, opts) = spec.split_once(':').unwrap_or((spec, ""));
        let destination = container_path(path)?;
        let mut options = Vec::new();
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            let known = match opt.split_once('=') {
                Some((k, v)) => TMPFS_VALUES.contains(&k) && !v.is_empty(),
                None => TMPFS_FLAGS.contains(&opt),
            };
            if !known {
                return Err(format!(
                    "{spec:?}: unknown tmpfs option {opt:?} (known: {}=VALUE, {})",
                    TMPFS_VALUES.join("=, "),
                    TMPFS_FLAGS.join(", ")
                ));
            }
            options.push(opt.to_string());
        }
        Ok(Mount::Tmpfs {
            destination,
            options,
        })
    }

    /// `HOST:CTR[:ro|rw]`, both paths absolute.
    pub fn bind(spec: &str) -> Result<Mount, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, ctr, mode) = match parts[..] {
            [h, c] => (h, c, "rw"),
            [h, c, m] => (h, c, m),
            _ => return Err(format!("{spec:?}: write HOST:CTR or HOST:CTR:ro")),
        };
        let read_only = match mode {
            "ro" => true,
            "rw" => false,
            other => return Err(format!("{spec:?}: unknown mode {other:?} (ro or rw)")),
        };
        let source = PathBuf::from(host);
        if !source.is_absolute() {
            return Err(format!("{spec:?}: the host path must be absolute"));
        }
        Ok(Mount::Bind {
            source,
            destination: container_path(ctr)?,
            read_only,
        })
    }

    /// Where it goes in the container.
    pub fn destination(&self) -> &Path {
        match self {
            Mount::Tmpfs { destination, .. } | Mount::Bind { destination, .. } => destination,
        }
    }

    /// Checks what the mount needs of the node: a bind's source exists.
    pub fn check_on_node(&self) -> Result<(), String> {
        match self {
            Mount::Bind { source, .. } if !source.exists() => Err(format!(
                "volume {}: no such file or directory on the node (jolt does not create it)",
                source.display()
            )),
            _ => Ok(()),
        }
    }

    /// The entry for config.json's `mounts`.
    pub fn oci(&self) -> Value {
        match self {
            Mount::Tmpfs {
                destination,
                options,
            } => {
                let mut opts = vec!["nosuid".to_string(), "nodev".to_string()];
                opts.extend(options.iter().cloned());
                json!({"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": opts})
            }
            Mount::Bind {
                source,
                destination,
                read_only,
            } => json!({
                "destination": destination,
                "type": "bind",
                "source": source,
                "options": ["rbind", if *read_only { "ro" } else { "rw" }],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_and_volume_specs_are_read_and_bad_ones_named() {
        assert_eq!(
            Mount::tmpfs("/scratch:size=1m,mode=1777").unwrap().oci(),
            json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid", "nodev", "size=1m", "mode=1777"]})
        );
        assert_eq!(
            Mount::bind("/srv/data:/data:ro").unwrap().oci(),
            json!({"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]})
        );
        assert!(Mount::bind("/srv:/data").unwrap().oci()["options"][1] == "rw");
        for (bad, want) in [
            (Mount::tmpfs("scratch"), "must be absolute"),
            (Mount::tmpfs("/x:size"), "unknown tmpfs option \"size\""),
            (Mount::tmpfs("/x:exec=1"), "unknown tmpfs option"),
            (Mount::tmpfs("/"), "cannot mount over the container's root"),
            (Mount::bind("/a"), "write HOST:CTR"),
            (Mount::bind("a:/b"), "host path must be absolute"),
            (Mount::bind("/a:/b/../c"), "must not contain .."),
            (Mount::bind("/a:/b:rx"), "unknown mode \"rx\""),
        ] {
            let e = bad.unwrap_err();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
        let missing = Mount::bind("/no/such/jolt/dir:/d").unwrap();
        assert!(missing
            .check_on_node()
            .unwrap_err()
            .contains("jolt does not create it"));
    }
}
