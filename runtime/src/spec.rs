//! spec: reads a bundle's config.json and checks it before anything exists.
//!
//! Owns the bundle on disk (config.json and the rootfs directory), the rules a
//! spec must satisfy for jolt to run it, and the default spec `jolt spec`
//! writes. It does not touch the kernel: everything here is pure or reads
//! files, so a bad bundle is rejected before a state dir, cgroup or process
//! exists.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// A bundle that parsed and validated.
#[derive(Debug)]
pub struct Bundle {
    /// The bundle directory, absolute.
    pub dir: PathBuf,
    /// The rootfs directory, absolute and canonical.
    pub rootfs: PathBuf,
    pub spec: Spec,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("bundle {path}: {}", crate::os_text(err))]
    Bundle { path: PathBuf, err: io::Error },
    #[error("{path}: {}", crate::os_text(err))]
    Read { path: PathBuf, err: io::Error },
    #[error("{path}: {field}: {msg}")]
    Parse {
        path: PathBuf,
        field: String,
        msg: String,
    },
    #[error("{path}: {0}", .invalid)]
    Invalid { path: PathBuf, invalid: Invalid },
}

/// One broken rule: the JSON path of the offending field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {msg}")]
pub struct Invalid {
    pub field: String,
    pub msg: String,
}

fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        msg: msg.into(),
    }
}

/// A config that lists no mount namespace inherits the runtime's (the spec:
/// an unlisted namespace MUST be inherited). Then every mount would be made
/// in the host's mount table: jolt refuses them, and runs the container in
/// a chroot of the rootfs. runc refuses masked and read-only paths the same
/// way.
fn check_without_mount_namespace(spec: &Spec) -> Result<(), Invalid> {
    let why = "needs a mount namespace; without one in linux.namespaces the container \
               inherits jolt's, where it would change the host's mounts";
    if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(invalid("mounts", why));
    }
    let linux = spec.linux().as_ref();
    for (field, set) in [
        (
            "linux.maskedPaths",
            linux.and_then(|l| l.masked_paths().as_ref()),
        ),
        (
            "linux.readonlyPaths",
            linux.and_then(|l| l.readonly_paths().as_ref()),
        ),
    ] {
        if set.is_some_and(|p| !p.is_empty()) {
            return Err(invalid(field, why));
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        return Err(invalid("root.readonly", why));
    }
    if linux
        .and_then(|l| l.rootfs_propagation().as_ref())
        .is_some()
    {
        return Err(invalid("linux.rootfsPropagation", why));
    }
    Ok(())
}

/// Reads `<bundle>/config.json`, validates it and resolves the rootfs.
pub fn load(bundle: &Path) -> Result<Bundle, SpecError> {
    let dir = std::path::absolute(bundle).map_err(|err| SpecError::Bundle {
        path: bundle.to_path_buf(),
        err,
    })?;
    let meta = fs::metadata(&dir).map_err(|err| SpecError::Bundle {
        path: dir.clone(),
        err,
    })?;
    if !meta.is_dir() {
        return Err(SpecError::Bundle {
            path: dir,
            err: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let config = dir.join("config.json");
    let text = fs::read(&config).map_err(|err| SpecError::Read {
        path: config.clone(),
        err,
    })?;
    let spec = parse(&text).map_err(|(field, msg)| SpecError::Parse {
        path: config.clone(),
        field,
        msg,
    })?;
    validate(&spec).map_err(|invalid| SpecError::Invalid {
        path: config.clone(),
        invalid,
    })?;
    let root = spec.root().as_ref().map(|r| r.path().clone());
    let root = root.expect("validate checked root");
    let rootfs = dir.join(root);
    let rootfs = fs::canonicalize(&rootfs)
        .and_then(|p| {
            if p.is_dir() {
                Ok(p)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    "not a directory",
                ))
            }
        })
        .map_err(|e| SpecError::Invalid {
            path: config.clone(),
            invalid: invalid(
                "root.path",
                format!("{}: {}", rootfs.display(), crate::os_text(&e)),
            ),
        })?;
    Ok(Bundle { dir, rootfs, spec })
}

/// Parses config.json text; on error returns the JSON path of the field that
/// failed and serde's reason.
pub fn parse(text: &[u8]) -> Result<Spec, (String, String)> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." || field == "?" {
            "(document)".to_string()
        } else {
            field
        };
        (field, e.into_inner().to_string())
    })
}

/// Checks the rules jolt relies on. Pure: no file or kernel access.
pub fn validate(spec: &Spec) -> Result<(), Invalid> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid("process", "missing"))?;
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(invalid("process.args", "is empty: nothing to run")),
    }
    if !process.cwd().is_absolute() {
        return Err(invalid(
            "process.cwd",
            format!("{:?} is not an absolute path", process.cwd()),
        ));
    }
    for (i, rlimit) in process.rlimits().iter().flatten().enumerate() {
        if rlimit.soft() > rlimit.hard() {
            return Err(invalid(
                format!("process.rlimits[{i}]"),
                format!(
                    "soft limit {} is above hard limit {}",
                    rlimit.soft(),
                    rlimit.hard()
                ),
            ));
        }
    }
    for (i, var) in process.env().iter().flatten().enumerate() {
        if !var.contains('=') {
            return Err(invalid(
                format!("process.env[{i}]"),
                format!("{var:?} is not KEY=VALUE"),
            ));
        }
    }

    let unsupported = |field: &str| {
        invalid(
            field,
            "is not supported by jolt yet: remove it to run without it",
        )
    };
    if process.io_priority().is_some() {
        return Err(unsupported("process.ioPriority"));
    }
    if process.scheduler().is_some() {
        return Err(unsupported("process.scheduler"));
    }
    if process.exec_cpu_affinity().is_some() {
        return Err(unsupported("process.execCPUAffinity"));
    }

    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root", "missing"))?;
    if root.path().as_os_str().is_empty() {
        return Err(invalid("root.path", "is empty"));
    }

    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("mounts[{i}].destination");
        if mount.destination().as_os_str().is_empty() {
            return Err(invalid(field, "is empty"));
        }
        contained(mount.destination()).map_err(|msg| invalid(field, msg))?;
        crate::rootfs::check_options(mount)
            .map_err(|msg| invalid(format!("mounts[{i}].options"), msg))?;
    }

    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| invalid("linux", "missing: jolt runs Linux containers"))?;
    // A filter or policy that is silently not applied is worse than an
    // error: the user believes the container is confined.
    for (set, field) in [
        (linux.intel_rdt().is_some(), "linux.intelRdt"),
        (linux.memory_policy().is_some(), "linux.memoryPolicy"),
        (linux.personality().is_some(), "linux.personality"),
        (linux.time_offsets().is_some(), "linux.timeOffsets"),
        (linux.net_devices().is_some(), "linux.netDevices"),
    ] {
        if set {
            return Err(unsupported(field));
        }
    }
    if let Some(seccomp) = linux.seccomp() {
        crate::seccomp::compile(seccomp)
            .map_err(|e| invalid(format!("linux.seccomp{}", e.field), e.msg))?;
    }
    let mut seen = HashSet::new();
    let mut new_ns = HashSet::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(invalid(
                format!("linux.namespaces[{i}].type"),
                format!("{} is listed twice", ns.typ()),
            ));
        }
        match ns.path() {
            Some(p) if !p.is_absolute() => {
                return Err(invalid(
                    format!("linux.namespaces[{i}].path"),
                    format!("{p:?} is not an absolute path"),
                ))
            }
            Some(_) => {}
            None => {
                new_ns.insert(ns.typ());
            }
        }
    }
    if !seen.contains(&LinuxNamespaceType::Mount) {
        check_without_mount_namespace(spec)?;
    }
    let has_user_ns = seen.contains(&LinuxNamespaceType::User);
    let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if new_ns.contains(&LinuxNamespaceType::User) {
        for (name, m) in [
            ("linux.uidMappings", linux.uid_mappings()),
            ("linux.gidMappings", linux.gid_mappings()),
        ] {
            if m.as_ref().is_none_or(|m| m.is_empty()) {
                return Err(invalid(
                    name,
                    "a new user namespace needs at least one mapping",
                ));
            }
        }
    } else if maps && !has_user_ns {
        return Err(invalid(
            "linux.uidMappings",
            "mappings are given but linux.namespaces has no user namespace",
        ));
    }
    // A uts namespace joined by path takes the names too, as with runc.
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        && !seen.contains(&LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "hostname",
            "setting the hostname needs a uts namespace (a new one, or one joined by path)",
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty())
        && !seen.contains(&LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "domainname",
            "setting the domainname needs a uts namespace (a new one, or one joined by path)",
        ));
    }
    // The kernel's HOST_NAME_MAX, for both (sethostname and setdomainname
    // refuse longer ones with EINVAL, inside the container's init).
    const NAME_MAX: usize = 64;
    for (field, name) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if let Some(len) = name.as_ref().map(String::len).filter(|&l| l > NAME_MAX) {
            return Err(invalid(
                field,
                format!("{len} bytes; the kernel allows at most {NAME_MAX}"),
            ));
        }
    }
    for key in linux.sysctl().iter().flat_map(|s| s.keys()) {
        let needs = sysctl_namespace(key).ok_or_else(|| {
            invalid(
                format!("linux.sysctl.{key}"),
                "is not namespaced: setting it would change the host",
            )
        })?;
        if !seen.contains(&needs) {
            return Err(invalid(
                format!("linux.sysctl.{key}"),
                format!("needs a {needs} namespace"),
            ));
        }
    }
    for (name, paths) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in paths.iter().flatten().enumerate() {
            let field = format!("{name}[{i}]");
            if !Path::new(p).is_absolute() {
                return Err(invalid(field, format!("{p:?} is not an absolute path")));
            }
            contained(Path::new(p)).map_err(|msg| invalid(field, msg))?;
        }
    }
    for (i, dev) in linux.devices().iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}].path");
        if !dev.path().is_absolute() {
            return Err(invalid(
                field,
                format!("{:?} is not an absolute path", dev.path()),
            ));
        }
        contained(dev.path()).map_err(|msg| invalid(field, msg))?;
    }

    if let Some(hooks) = spec.hooks() {
        #[allow(deprecated)] // prestart is deprecated in the spec but runc still runs it
        let kinds = [
            ("prestart", hooks.prestart()),
            ("createRuntime", hooks.create_runtime()),
            ("createContainer", hooks.create_container()),
            ("startContainer", hooks.start_container()),
            ("poststart", hooks.poststart()),
            ("poststop", hooks.poststop()),
        ];
        for (kind, list) in kinds {
            for (i, hook) in list.iter().flatten().enumerate() {
                if !hook.path().is_absolute() {
                    return Err(invalid(
                        format!("hooks.{kind}[{i}].path"),
                        format!("{:?} is not an absolute path", hook.path()),
                    ));
                }
                if hook.timeout().is_some_and(|t| t <= 0) {
                    return Err(invalid(
                        format!("hooks.{kind}[{i}].timeout"),
                        "must be a positive number of seconds",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks that a path inside the container never climbs above its root
/// through `..`. Symlinks are checked when the path is resolved on disk.
pub fn contained(path: &Path) -> Result<(), String> {
    let mut depth = 0usize;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("{} escapes the rootfs through ..", path.display()))?
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(())
}

/// The namespace a sysctl key belongs to, as the kernel scopes it; None if
/// the key is global to the host.
fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

/// The config.json `jolt spec` writes: runc's default, a busybox-friendly
/// shell in every namespace but user, with a read-only rootfs.
pub fn default_config() -> serde_json::Value {
    serde_json::json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": true,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "jolt",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" },
                { "type": "cgroup" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Spec, String> {
        let mut v = default_config();
        edit(&mut v);
        let text = serde_json::to_vec(&v).unwrap();
        let spec = parse(&text).map_err(|(f, m)| format!("{f}: {m}"))?;
        validate(&spec).map_err(|e| e.to_string())?;
        Ok(spec)
    }

    #[test]
    fn default_config_is_valid() {
        spec_with(|_| {}).unwrap();
    }

    #[test]
    fn empty_or_missing_args_are_rejected() {
        let err = spec_with(|v| v["process"]["args"] = serde_json::json!([])).unwrap_err();
        assert!(err.starts_with("process.args: "), "{err}");
        let err = spec_with(|v| {
            v["process"].as_object_mut().unwrap().remove("args");
        })
        .unwrap_err();
        assert!(err.starts_with("process.args: "), "{err}");
    }

    #[test]
    fn not_json_names_the_document() {
        let (field, msg) = parse(b"{ not json").unwrap_err();
        assert_eq!(field, "(document)");
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn unknown_namespace_names_the_field() {
        let err = spec_with(|v| v["linux"]["namespaces"][2]["type"] = "foo".into()).unwrap_err();
        assert!(err.starts_with("linux.namespaces[2].type: "), "{err}");
        assert!(err.contains("foo"), "{err}");
    }

    #[test]
    fn duplicate_namespace_is_rejected() {
        let err = spec_with(|v| v["linux"]["namespaces"][1]["type"] = "pid".into()).unwrap_err();
        assert!(err.contains("listed twice"), "{err}");
    }

    #[test]
    fn mount_destination_escaping_through_dotdot_is_rejected() {
        let err =
            spec_with(|v| v["mounts"][0]["destination"] = "/proc/../../etc".into()).unwrap_err();
        assert!(err.starts_with("mounts[0].destination: "), "{err}");
        assert!(err.contains("escapes the rootfs"), "{err}");
        spec_with(|v| v["mounts"][0]["destination"] = "/a/../proc".into()).unwrap();
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let err = spec_with(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}))
        })
        .unwrap_err();
        assert!(err.starts_with("linux.uidMappings"), "{err}");
        spec_with(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}));
            let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            v["linux"]["uidMappings"] = map.clone();
            v["linux"]["gidMappings"] = map;
        })
        .unwrap();
    }

    #[test]
    fn hostname_needs_uts_namespace() {
        let err = spec_with(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "uts")
        })
        .unwrap_err();
        assert!(err.starts_with("hostname: "), "{err}");
    }

    #[test]
    fn without_a_mount_namespace_mounts_and_path_rules_are_refused() {
        let no_mount_ns = |v: &mut serde_json::Value| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "mount")
        };
        let err = spec_with(no_mount_ns).unwrap_err();
        assert!(err.starts_with("mounts: needs a mount namespace"), "{err}");
        spec_with(|v| {
            no_mount_ns(v);
            v["mounts"] = serde_json::json!([]);
            v["root"]["readonly"] = false.into();
            v["linux"].as_object_mut().unwrap().remove("maskedPaths");
            v["linux"].as_object_mut().unwrap().remove("readonlyPaths");
        })
        .expect("inherits the runtime's mount namespace");
        let err = spec_with(|v| {
            no_mount_ns(v);
            v["mounts"] = serde_json::json!([]);
        })
        .unwrap_err();
        assert!(
            err.starts_with("linux.maskedPaths: needs a mount namespace"),
            "{err}"
        );
    }

    #[test]
    fn sysctls_must_be_namespaced() {
        spec_with(|v| v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"}))
            .unwrap();
        let err = spec_with(|v| v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "1"}))
            .unwrap_err();
        assert!(err.starts_with("linux.sysctl.vm.swappiness: "), "{err}");
    }

    #[test]
    fn rlimit_soft_above_hard_is_rejected() {
        let err = spec_with(|v| v["process"]["rlimits"][0]["soft"] = 4096.into()).unwrap_err();
        assert!(err.starts_with("process.rlimits[0]: "), "{err}");
    }

    #[test]
    fn relative_hook_path_is_rejected() {
        let err = spec_with(|v| {
            v["hooks"] = serde_json::json!({"poststop": [{"path": "bin/true"}]});
        })
        .unwrap_err();
        assert!(err.starts_with("hooks.poststop[0].path: "), "{err}");
    }

    #[test]
    fn unsupported_features_are_errors_not_no_ops() {
        let err =
            spec_with(|v| v["linux"]["intelRdt"] = serde_json::json!({"closID": "x"})).unwrap_err();
        assert!(err.starts_with("linux.intelRdt: is not supported"), "{err}");
        let err = spec_with(|v| {
            v["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
            })
        })
        .unwrap_err();
        assert!(err.starts_with("linux.seccomp.listenerPath: "), "{err}");
    }

    #[test]
    fn mount_options_a_mount_would_drop_are_refused_with_the_config() {
        let with_mount =
            |m: serde_json::Value| spec_with(move |v| v["mounts"] = serde_json::json!([m]));
        let err = with_mount(serde_json::json!({
            "destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "r-ro"]
        }))
        .unwrap_err();
        assert!(
            err.starts_with("mounts[0].options: unknown mount option \"r-ro\""),
            "{err}"
        );
        let err = with_mount(serde_json::json!({
            "destination": "/proc", "type": "proc", "source": "proc", "options": ["tmpcopyup"]
        }))
        .unwrap_err();
        assert!(
            err.starts_with("mounts[0].options: tmpcopyup: only a tmpfs"),
            "{err}"
        );
        with_mount(serde_json::json!({
            "destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "tmpcopyup"]
        }))
        .expect("filesystem data goes to the filesystem");
    }

    #[test]
    fn contained_paths() {
        assert!(contained(Path::new("/a/b/../c")).is_ok());
        assert!(contained(Path::new("/..")).is_err());
        assert!(contained(Path::new("a/../../b")).is_err());
    }
}
