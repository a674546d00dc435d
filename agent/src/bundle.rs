//! bundle: the OCI bundle joltd hands to `jolt create` for a container.
//!
//! Owns the embedded default bundle (a config.json made in code, from
//! jolt's own `spec` default, over a busybox-static rootfs installed once
//! under the state directory's `images/`) and the per-container
//! config.json: the user's bundle, an image's (jolt's default over the
//! image's rootfs, with the process its config gives) or the default,
//! with the request's command, env and limits applied, and its rootfs
//! named by absolute path so the user's bundle directory is read, never
//! written.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::container::{cpu_quota, parse_env, Spec, CPU_PERIOD};
use crate::store::write_durable;

/// The static busybox the default rootfs is made from.
pub const BUSYBOX: &str = "/bin/busybox";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {}: {cause}", path.display())]
    Read { path: PathBuf, cause: io::Error },
    #[error("bundle {}: not a directory", .0.display())]
    NotDirectory(PathBuf),
    #[error("bundle {}: no config.json ({}: {cause})", path.display(), path.join("config.json").display())]
    NoConfig { path: PathBuf, cause: io::Error },
    #[error("bundle {}: config.json: {cause}", path.display())]
    Config { path: PathBuf, cause: String },
    #[error("default bundle: {what}: {cause} (apt-get install busybox-static)")]
    Busybox { what: String, cause: String },
    #[error("{}: {cause}", path.display())]
    Write { path: PathBuf, cause: io::Error },
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),
    #[error("image {reference}: {cause}")]
    Image { reference: String, cause: String },
    #[error(transparent)]
    Store(#[from] crate::image::ImageError),
}

/// An error in what `spec`'s bundle or image makes of the request.
fn config_error(spec: &Spec, cause: String) -> BundleError {
    match (&spec.bundle, &spec.image) {
        (None, Some(image)) => BundleError::Image {
            reference: image.reference.clone(),
            cause,
        },
        (bundle, _) => BundleError::Config {
            path: bundle.clone().unwrap_or_else(|| "(default)".into()),
            cause,
        },
    }
}

/// The config.json `spec` starts from: its bundle's, its image's (the
/// image's process; see [`crate::image::process`]), or the embedded
/// bundle's. `images` is joltd's `images/`.
fn base_config(spec: &Spec, images: &Path) -> Result<Value, BundleError> {
    let Some(image) = spec.image.as_ref().filter(|_| spec.bundle.is_none()) else {
        return match &spec.bundle {
            Some(bundle) => user_config(bundle),
            None => Ok(default_config(&busybox_rootfs(images)?)),
        };
    };
    let store = crate::image::Images::at(&images.join(crate::image::DIR));
    let record = store.get(&image.id)?;
    let rootfs = store.rootfs(&image.id);
    let mut config = default_config(&rootfs);
    crate::image::process::apply(
        &mut config["process"],
        record.config.as_ref(),
        &spec.command,
        &rootfs,
    )
    .map_err(|cause| config_error(spec, cause))?;
    Ok(config)
}

/// The rootfs of the embedded busybox bundle under `images`, installed
/// from [`BUSYBOX`] when missing (made beside it, then renamed into place,
/// so a half-made one is never used).
pub fn busybox_rootfs(images: &Path) -> Result<PathBuf, BundleError> {
    let rootfs = images.join("busybox");
    if rootfs.join("bin/busybox").is_file() {
        return Ok(rootfs);
    }
    let tmp = images.join(".busybox.tmp");
    let _ = fs::remove_dir_all(&tmp);
    let made = make_busybox_rootfs(&tmp).and_then(|()| {
        fs::rename(&tmp, &rootfs).map_err(|e| BundleError::Busybox {
            what: format!("install {}", rootfs.display()),
            cause: e.to_string(),
        })
    });
    if made.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    made.map(|()| rootfs)
}

fn make_busybox_rootfs(dir: &Path) -> Result<(), BundleError> {
    let fail = |what: &str| {
        let what = what.to_string();
        move |e: io::Error| BundleError::Busybox {
            what,
            cause: e.to_string(),
        }
    };
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "run", "var", "root",
        "tmp", "www",
    ] {
        fs::create_dir_all(dir.join(d)).map_err(fail("mkdir"))?;
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))
        .map_err(fail("chmod tmp"))?;
    fs::copy(BUSYBOX, dir.join("bin/busybox")).map_err(fail(BUSYBOX))?;
    let list = Command::new(dir.join("bin/busybox"))
        .arg("--list-full")
        .output()
        .map_err(fail("busybox --list-full"))?;
    if !list.status.success() || list.stdout.is_empty() {
        return Err(BundleError::Busybox {
            what: "busybox --list-full".into(),
            cause: format!("{} and no applets", list.status),
        });
    }
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim().trim_start_matches('/');
        if applet.is_empty() || applet == "bin/busybox" || applet.contains("..") {
            continue;
        }
        let link = dir.join(applet);
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).map_err(fail("mkdir"))?;
        }
        symlink("/bin/busybox", &link).map_err(fail(applet))?;
    }
    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"),
        ("www/index.html", "<h1>jolt</h1>\n"),
    ];
    for (path, text) in files {
        fs::write(dir.join(path), text).map_err(fail(path))?;
    }
    Ok(())
}

/// The config.json of the embedded bundle: `jolt spec`'s default without
/// a terminal, over `rootfs`.
pub fn default_config(rootfs: &Path) -> Value {
    let mut config = jolt_runtime::spec::default_config();
    config["root"]["path"] = json!(rootfs);
    config["process"]["terminal"] = json!(false);
    config
}

/// Reads the user's bundle config.json, its rootfs made absolute.
pub fn user_config(bundle: &Path) -> Result<Value, BundleError> {
    let config_err = |cause: String| BundleError::Config {
        path: bundle.to_path_buf(),
        cause,
    };
    let dir = fs::metadata(bundle).map_err(|cause| BundleError::Read {
        path: bundle.to_path_buf(),
        cause,
    })?;
    if !dir.is_dir() {
        return Err(BundleError::NotDirectory(bundle.to_path_buf()));
    }
    let text = fs::read(bundle.join("config.json")).map_err(|cause| match cause.kind() {
        io::ErrorKind::NotFound => BundleError::NoConfig {
            path: bundle.to_path_buf(),
            cause,
        },
        _ => config_err(cause.to_string()),
    })?;
    let mut config: Value = serde_json::from_slice(&text).map_err(|e| config_err(e.to_string()))?;
    let root = config["root"]["path"]
        .as_str()
        .ok_or_else(|| config_err("root.path: missing".into()))?;
    config["root"]["path"] = json!(bundle.join(root));
    Ok(config)
}

/// Applies the request to `config`: no terminal (joltd keeps logs, not a
/// pty), the command, env entries (replacing those with the same key),
/// and the memory and CPU limits.
pub fn apply(config: &mut Value, spec: &Spec) -> Result<(), String> {
    if !config.is_object() || !config["process"].is_object() {
        return Err("process: missing".into());
    }
    let process = &mut config["process"];
    process["terminal"] = json!(false);
    // An image's entrypoint was joined with the command already.
    if !spec.command.is_empty() && spec.image.is_none() {
        process["args"] = json!(spec.command);
    }
    if !spec.env.is_empty() {
        let mut env: Vec<String> = match &process["env"] {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or("process.env: not a list of strings")?,
            Value::Null => Vec::new(),
            _ => return Err("process.env: not a list".into()),
        };
        for entry in &spec.env {
            let (key, _) = parse_env(entry)?;
            env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
            env.push(entry.clone());
        }
        process["env"] = json!(env);
    }
    if !spec.mounts.is_empty() {
        let mounts = config["mounts"].as_array_mut();
        let extra = spec.mounts.iter().map(crate::volume::Mount::oci);
        match mounts {
            Some(list) => list.extend(extra),
            None => config["mounts"] = json!(extra.collect::<Vec<_>>()),
        }
    }
    if spec.memory.is_some() || spec.cpus.is_some() {
        if !config["linux"].is_object() {
            return Err("linux: missing".into());
        }
        let resources = &mut config["linux"]["resources"];
        if resources.is_null() {
            *resources = json!({});
        }
        if let Some(m) = spec.memory {
            resources["memory"]["limit"] = json!(m);
        }
        if let Some(c) = spec.cpus {
            resources["cpu"]["quota"] = json!(cpu_quota(c));
            resources["cpu"]["period"] = json!(CPU_PERIOD);
        }
    }
    Ok(())
}

/// Checks the user's bundle of `spec` as [`write`] will read it (a
/// directory with a config.json that parses, names its rootfs and has a
/// process the request can apply to), and its volumes, changing nothing
/// but installing the default bundle's rootfs in `images` when missing. A read-only container's
/// mounts must land on paths its rootfs has: the runtime would make them
/// in the rootfs, which is shared.
pub fn check(spec: &Spec, images: &Path) -> Result<(), BundleError> {
    let bad = |cause: String| config_error(spec, cause);
    for m in &spec.mounts {
        m.check_on_node().map_err(bad)?;
    }
    let mut config = base_config(spec, images)?;
    apply(&mut config, spec).map_err(bad)?;
    let rootfs = PathBuf::from(config["root"]["path"].as_str().unwrap_or_default());
    if spec.read_only {
        for m in &spec.mounts {
            let dest = m.destination();
            let inside = rootfs.join(dest.strip_prefix("/").unwrap_or(dest));
            if !inside.exists() {
                return Err(bad(format!(
                    "{}: not in the read-only rootfs; a read-only container mounts only on paths its image has (or leave out --read-only)",
                    dest.display()
                )));
            }
        }
    }
    Ok(())
}

/// Makes `config` join the network namespace at `netns` (the one the
/// network module made for the container) instead of a new one.
pub fn join_netns(config: &mut Value, netns: &Path) -> Result<(), String> {
    if !config["linux"].is_object() {
        return Err("linux: missing".into());
    }
    let namespaces = &mut config["linux"]["namespaces"];
    if namespaces.is_null() {
        *namespaces = json!([]);
    }
    let list = namespaces
        .as_array_mut()
        .ok_or("linux.namespaces: not a list")?;
    list.retain(|ns| ns["type"] != "network");
    list.push(json!({"type": "network", "path": netns}));
    Ok(())
}

/// Writes container `spec`'s bundle into `dir` (config.json only: the
/// rootfs is named by path), joining the network namespace at `netns`
/// when there is one. `images` holds the default rootfs. Unless the spec
/// is read-only, the rootfs is the writable layer mounted in `layer` over
/// the bundle's (see [`crate::layer`]); the caller removes it should a
/// later step fail.
pub fn write(
    dir: &Path,
    spec: &Spec,
    images: &Path,
    netns: Option<&Path>,
    layer: &Path,
) -> Result<(), BundleError> {
    let mut config = base_config(spec, images)?;
    apply(&mut config, spec)
        .and_then(|()| netns.map_or(Ok(()), |ns| join_netns(&mut config, ns)))
        .map_err(|cause| config_error(spec, cause))?;
    if !spec.read_only {
        let lower = PathBuf::from(config["root"]["path"].as_str().unwrap_or_default());
        let merged = crate::layer::mount_over(&lower, layer)?;
        config["root"]["path"] = json!(merged);
        config["root"]["readonly"] = json!(false);
    }
    fs::create_dir_all(dir).map_err(|cause| BundleError::Write {
        path: dir.to_path_buf(),
        cause,
    })?;
    let path = dir.join("config.json");
    let text = serde_json::to_vec_pretty(&config).expect("JSON values serialize");
    write_durable(&path, &text).map_err(|cause| BundleError::Write { path, cause })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::RunRequest;

    fn spec(edit: impl FnOnce(&mut RunRequest)) -> Spec {
        let mut r = RunRequest::default();
        edit(&mut r);
        r.validate("0123456789ab").unwrap()
    }

    #[test]
    fn the_request_overrides_command_env_and_limits() {
        let mut config = default_config(Path::new("/images/busybox"));
        let s = spec(|r| {
            r.command = vec!["httpd".into(), "-f".into()];
            r.env = vec!["TERM=dumb".into(), "APP=1".into()];
            r.memory = Some(64 << 20);
            r.cpus = Some(0.25);
        });
        apply(&mut config, &s).unwrap();
        assert_eq!(config["root"]["path"], "/images/busybox");
        assert_eq!(config["process"]["terminal"], false);
        assert_eq!(config["process"]["args"], json!(["httpd", "-f"]));
        let env = config["process"]["env"].as_array().unwrap();
        assert!(env.contains(&json!("TERM=dumb")));
        assert!(!env.contains(&json!("TERM=xterm")));
        assert!(env.contains(&json!("APP=1")));
        assert!(env.iter().any(|e| e.as_str().unwrap().starts_with("PATH=")));
        let res = &config["linux"]["resources"];
        assert_eq!(res["memory"]["limit"], 64 << 20);
        assert_eq!(res["cpu"]["quota"], 25_000);
        assert_eq!(res["cpu"]["period"], 100_000);
        assert!(res["devices"].is_array(), "the default device rules stay");
    }

    #[test]
    fn the_config_joins_the_containers_netns_by_path() {
        let mut config = default_config(Path::new("/rootfs"));
        join_netns(&mut config, Path::new("/run/jolt/netns/abc")).unwrap();
        let nets: Vec<_> = config["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|ns| ns["type"] == "network")
            .collect();
        assert_eq!(
            nets,
            [&json!({"type": "network", "path": "/run/jolt/netns/abc"})]
        );
        let mut bad = json!({"linux": {"namespaces": 3}});
        assert!(join_netns(&mut bad, Path::new("/x"))
            .unwrap_err()
            .contains("linux.namespaces"));
    }

    #[test]
    fn an_empty_request_keeps_the_bundles_process() {
        let mut config = default_config(Path::new("/r"));
        let before = config.clone();
        apply(&mut config, &spec(|_| {})).unwrap();
        assert_eq!(config, before);
    }

    #[test]
    fn user_bundles_get_an_absolute_rootfs_and_bad_ones_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(
            tmp.path().join("config.json"),
            r#"{"root":{"path":"rootfs"}}"#,
        )
        .unwrap();
        let c = user_config(tmp.path()).unwrap();
        assert_eq!(c["root"]["path"], json!(tmp.path().join("rootfs")));
        fs::write(tmp.path().join("config.json"), "{").unwrap();
        let e = user_config(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
        let e = user_config(&tmp.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains("No such file"), "{e}");
        let mut no_process = json!({});
        assert!(apply(&mut no_process, &spec(|_| {})).is_err());
    }

    #[test]
    fn a_bundle_without_config_json_is_named_before_anything_is_made() {
        let tmp = tempfile::tempdir().unwrap();
        let bundle = tmp.path().to_path_buf();
        let e = check(
            &spec(|r| r.bundle = Some(bundle.clone())),
            Path::new("/nonexistent"),
        )
        .unwrap_err()
        .to_string();
        let want = format!(
            "bundle {0}: no config.json ({0}/config.json: No such file or directory",
            bundle.display()
        );
        assert!(e.starts_with(&want), "{e}");
        let file = bundle.join("file");
        fs::write(&file, "").unwrap();
        let e = check(
            &spec(|r| r.bundle = Some(file.clone())),
            Path::new("/nonexistent"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, format!("bundle {}: not a directory", file.display()));
        fs::write(bundle.join("config.json"), r#"{"root":{"path":"rootfs"}}"#).unwrap();
        let e = check(
            &spec(|r| r.bundle = Some(bundle.clone())),
            Path::new("/nonexistent"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.ends_with("config.json: process: missing"), "{e}");
        let images = tempfile::tempdir().unwrap();
        if Path::new(BUSYBOX).is_file() {
            assert!(
                check(&spec(|_| {}), images.path()).is_ok(),
                "the default bundle passes"
            );
        }
        assert_eq!(
            fs::read_dir(&bundle).unwrap().count(),
            2,
            "nothing was written"
        );
    }
}
