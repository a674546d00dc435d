//! foreign: the containers jolt runs for other callers, read from jolt's
//! state roots (`joltd --runtime-root`), never written and never locked.
//!
//! A root holds a directory per container (`<root>/<id>/state.json`, as
//! jolt's `state` module writes it), or a directory per namespace holding
//! those, as containerd's runc shim lays out `--root
//! /run/containerd/runc/<namespace>` for its `BinaryName`. Each read
//! lists the roots afresh, so a container is seen as soon as jolt has
//! written its state and forgotten once jolt deleted it; a state.json that
//! is not jolt's (runc's containers share containerd's root) is skipped.
//! A state.json that has not changed since the last read (same inode,
//! mtime and size: jolt replaces it whole) is not parsed again.
//!
//! What each container is: its origin (`containerd/NAMESPACE` in a
//! namespace directory; in a flat root `podman` when podman's
//! `io.container.manager: libpod` annotation is there, `containerd/ROOT`
//! when CRI annotations are, else `jolt`), its annotations and command
//! from the config.json jolt recorded, its init (alive and the same
//! process: the start time jolt recorded), its cgroup, and its network
//! namespace (the config's path, else /proc/PID/ns/net; none when it
//! shares the node's). Its name is its id, except for podman's, whose
//! name is in containers/storage's containers.json beside the bundle
//! (podman 4 puts no name annotation in the spec). Its id is jolt's,
//! qualified as `NAMESPACE:ID` in a namespace directory: containerd's ids
//! are unique only within a namespace.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use jolt_runtime::state::{Record, Root, StateError, Status};
use oci_spec::runtime::LinuxNamespaceType;
use serde::Deserialize;

use super::{Running, Seen, TargetSource};

/// The roots joltd reads when `--runtime-root` is not given: containerd's
/// runc shim (a directory per namespace) and jolt's own default, which
/// podman uses (it passes no `--root` to a runtime it does not know).
pub const DEFAULT_ROOTS: [&str; 2] = ["/run/containerd/runc", "/run/jolt"];

/// Why a runtime root cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("--runtime-root {0}: no such directory")]
    Missing(PathBuf),
    #[error("--runtime-root {path}: {cause}")]
    Io { path: PathBuf, cause: io::Error },
    #[error("--runtime-root {root}: not a jolt state directory: {why} (a jolt root holds a directory per container with its state.json, or a directory per namespace of those, as containerd's /run/containerd/runc)")]
    NotState { root: PathBuf, why: String },
    #[error("--runtime-root {0}: is joltd's own --jolt-root; its containers are listed already")]
    Own(PathBuf),
}

/// A container found in a root, running or not.
#[derive(Debug, Clone)]
pub struct Found {
    pub running: Running,
    pub status: Status,
}

/// The foreign roots joltd reads.
#[derive(Debug, Clone)]
pub struct ForeignRoots {
    roots: Vec<PathBuf>,
    /// The records read so far, by state.json path: one whose file has
    /// not changed since is not parsed again.
    parsed: Arc<Mutex<Records>>,
}

/// Parsed records by state.json path, each with the file's [`Stamp`].
type Records = HashMap<PathBuf, (Stamp, Record)>;

/// What tells a state.json apart from the one read before: jolt replaces
/// it whole (a new inode) at every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    mtime: (i64, i64),
    len: u64,
}

impl Stamp {
    fn of(path: &Path) -> io::Result<Stamp> {
        let m = fs::metadata(path)?;
        Ok(Stamp {
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            len: m.len(),
        })
    }
}

impl ForeignRoots {
    /// The roots `given` (checked: each must exist and look like jolt's
    /// state), or when none is given the [`DEFAULT_ROOTS`] (those missing
    /// are just empty). `own` is joltd's `--jolt-root`, refused here.
    pub fn new(given: &[PathBuf], own: &Path) -> Result<ForeignRoots, RootError> {
        for root in given {
            if root == own {
                return Err(RootError::Own(root.clone()));
            }
            check(root)?;
        }
        let roots = match given.is_empty() {
            true => DEFAULT_ROOTS.iter().map(PathBuf::from).collect(),
            false => given.to_vec(),
        };
        Ok(ForeignRoots {
            roots,
            parsed: Arc::default(),
        })
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Every container in the roots now, running or not.
    pub fn scan(&self) -> Vec<Found> {
        let mut names = Names::default();
        let mut found: Vec<Found> = Vec::new();
        let mut parsed = self.parsed.lock().expect("no panics while held");
        let mut seen = Records::new();
        for root in &self.roots {
            for (dir, namespace) in container_dirs(root) {
                let cache = Cache {
                    before: &mut parsed,
                    now: &mut seen,
                };
                match read(&dir, namespace.as_deref(), root, &mut names, Some(cache)) {
                    // The same root given twice (or nested) shows it twice.
                    Ok(Some(f)) if found.iter().any(|o| o.running.id == f.running.id) => {}
                    Ok(Some(f)) => found.push(f),
                    Ok(None) => {}
                    Err(e) => tracing::debug!("skipping {}: {e}", dir.display()),
                }
            }
        }
        // Containers gone since are forgotten.
        *parsed = seen;
        found
    }

    /// The container whose id or name is `name`, if a root holds one.
    pub fn find(&self, name: &str) -> Option<Found> {
        self.scan()
            .into_iter()
            .find(|f| f.running.id == name || f.running.name == name)
    }
}

impl TargetSource for ForeignRoots {
    fn running(&self) -> BoxFuture<'_, Vec<Running>> {
        let roots = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || roots.scan())
                .await
                .expect("reading state roots does not panic")
                .into_iter()
                .filter(|f| f.status == Status::Running)
                .map(|f| f.running)
                .collect()
        })
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Seen> {
        let roots = self.clone();
        let id = id.to_string();
        Box::pin(async move {
            let found = tokio::task::spawn_blocking(move || {
                roots.scan().into_iter().find(|f| f.running.id == id)
            })
            .await
            .expect("reading state roots does not panic");
            match found {
                None => Seen::Gone,
                Some(f) if f.status == Status::Running => Seen::Running(Box::new(f.running)),
                Some(_) => Seen::Down,
            }
        })
    }
}

/// The directories of `dir`, each with its name; none when it is gone.
fn subdirs(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.path(), e.file_name().into_string().ok()?)))
        .collect()
}

/// The container directories under `root`, each with its namespace when
/// it is in a namespace directory.
fn container_dirs(root: &Path) -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    for (dir, name) in subdirs(root) {
        if dir.join("state.json").exists() {
            out.push((dir, None));
            continue;
        }
        for (inner, _) in subdirs(&dir) {
            if inner.join("state.json").exists() {
                out.push((inner, Some(name.clone())));
            }
        }
    }
    out
}

/// Checks that `root` exists and holds only what a jolt root holds:
/// directories, with jolt's state in them when there is any state at all.
fn check(root: &Path) -> Result<(), RootError> {
    let not_state = |why: String| RootError::NotState {
        root: root.to_path_buf(),
        why,
    };
    let meta = match fs::metadata(root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(RootError::Missing(root.to_path_buf()))
        }
        Err(cause) => {
            return Err(RootError::Io {
                path: root.to_path_buf(),
                cause,
            })
        }
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err(not_state("it is not a directory".into()));
    }
    let entries = fs::read_dir(root).map_err(|cause| RootError::Io {
        path: root.to_path_buf(),
        cause,
    })?;
    // Sockets may share a root (joltd's own in /run/jolt); a file may not.
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            return Err(not_state(format!("{} is a file", entry.path().display())));
        }
    }
    // In a flat root every container is jolt's; containerd's namespaces
    // may mix runtimes (runc's containers beside jolt's).
    let dirs: Vec<_> = container_dirs(root)
        .into_iter()
        .filter(|(_, ns)| ns.is_none())
        .collect();
    let mut names = Names::default();
    let jolts = dirs
        .iter()
        .filter(|(dir, _)| read(dir, None, root, &mut names, None).is_ok())
        .count();
    if let Some((dir, _)) = dirs.first().filter(|_| jolts == 0) {
        return Err(not_state(format!(
            "{} is not jolt's (another runtime's state?)",
            dir.join("state.json").display()
        )));
    }
    Ok(())
}

/// The container in `dir` (found in `root`, in `namespace`): None when it
/// is not there any more.
/// The records of the last scan, and those of this one as it goes.
struct Cache<'a> {
    before: &'a mut Records,
    now: &'a mut Records,
}

fn read(
    dir: &Path,
    namespace: Option<&str>,
    root: &Path,
    names: &mut Names,
    cache: Option<Cache>,
) -> Result<Option<Found>, StateError> {
    let (Some(parent), Some(id)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else {
        return Ok(None);
    };
    let path = dir.join("state.json");
    let stamp = Stamp::of(&path).ok();
    let mut cache = cache;
    let known = cache
        .as_mut()
        .and_then(|c| c.before.remove(&path))
        .filter(|(s, _)| Some(*s) == stamp)
        .map(|(_, record)| record);
    let record = match known {
        Some(record) => record,
        None => match Root::new(parent).peek(id) {
            Err(StateError::NotExist(_)) => return Ok(None),
            other => other?,
        },
    };
    if let (Some(cache), Some(stamp)) = (cache, stamp) {
        cache.now.insert(path, (stamp, record.clone()));
    }
    let status = record.live_status();
    Ok(Some(Found {
        running: running(record, namespace, root, names),
        status,
    }))
}

fn running(record: Record, namespace: Option<&str>, root: &Path, names: &mut Names) -> Running {
    let annotations: BTreeMap<String, String> = record
        .config
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let origin = origin(namespace, root, &annotations);
    let name = match origin.as_str() {
        "podman" => names.podman(&record.bundle, &record.id),
        _ => None,
    }
    .unwrap_or_else(|| record.id.clone());
    let netns = netns(&record);
    // containerd's ids are unique only within a namespace.
    let id = match namespace {
        Some(ns) => format!("{ns}:{}", record.id),
        None => record.id.clone(),
    };
    Running {
        id,
        name,
        origin,
        labels: BTreeMap::new(),
        annotations,
        pid: record.pid,
        cgroup: record.cgroup_path.clone(),
        netns,
        interface: None,
        command: record
            .config
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default(),
        created: record.created,
    }
}

/// Who runs a container: see the module doc.
fn origin(namespace: Option<&str>, root: &Path, annotations: &BTreeMap<String, String>) -> String {
    if let Some(ns) = namespace {
        return format!("containerd/{ns}");
    }
    if annotations.get("io.container.manager").map(String::as_str) == Some("libpod") {
        return "podman".into();
    }
    if annotations
        .keys()
        .any(|k| k.starts_with("io.kubernetes.cri."))
    {
        let ns = root.file_name().map(|n| n.to_string_lossy().into_owned());
        return format!("containerd/{}", ns.unwrap_or_default());
    }
    "jolt".into()
}

/// The container's network namespace file: the path its config joins, or
/// its init's own; None when it shares the node's.
fn netns(record: &Record) -> Option<PathBuf> {
    let namespaces = record.config.linux().as_ref()?.namespaces().as_ref()?;
    let net = namespaces
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)?;
    Some(
        net.path()
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/proc/{}/ns/net", record.pid))),
    )
}

/// podman's container names, read once per containers.json per scan.
#[derive(Default)]
struct Names(HashMap<PathBuf, HashMap<String, String>>);

/// One entry of containers/storage's containers.json.
#[derive(Deserialize)]
struct Stored {
    id: String,
    #[serde(default)]
    names: Vec<String>,
}

impl Names {
    /// The name of podman's container `id` whose bundle is `bundle`
    /// (`<graphroot>/<driver>-containers/<id>/userdata`).
    fn podman(&mut self, bundle: &Path, id: &str) -> Option<String> {
        let file = bundle.parent()?.parent()?.join("containers.json");
        let names = self.0.entry(file.clone()).or_insert_with(|| {
            let stored: Vec<Stored> = fs::read(&file)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            stored
                .into_iter()
                .filter_map(|s| Some((s.id, s.names.into_iter().next()?)))
                .collect()
        });
        names.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_follow_the_layout_and_the_annotations() {
        let root = Path::new("/run/containerd/runc");
        let none = BTreeMap::new();
        assert_eq!(origin(Some("k8s.io"), root, &none), "containerd/k8s.io");
        let libpod = BTreeMap::from([("io.container.manager".into(), "libpod".into())]);
        assert_eq!(origin(None, Path::new("/run/jolt"), &libpod), "podman");
        let cri = BTreeMap::from([("io.kubernetes.cri.sandbox-name".into(), "web".into())]);
        assert_eq!(
            origin(None, Path::new("/run/containerd/runc/k8s.io"), &cri),
            "containerd/k8s.io"
        );
        assert_eq!(origin(None, Path::new("/run/jolt"), &none), "jolt");
    }

    #[test]
    fn a_missing_root_given_is_an_error_a_default_one_is_empty() {
        let e = ForeignRoots::new(&["/nonexistent/jolt-root".into()], Path::new("/run/joltd"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--runtime-root /nonexistent/jolt-root: no such directory"
        );
        let defaults = ForeignRoots::new(&[], Path::new("/run/joltd")).unwrap();
        assert_eq!(defaults.roots().len(), 2);
    }

    #[test]
    fn a_directory_that_is_not_a_jolt_root_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        let e = ForeignRoots::new(&[tmp.path().into()], Path::new("/run/joltd")).unwrap_err();
        assert!(
            e.to_string().contains("not a jolt state directory: ")
                && e.to_string().contains("notes.txt is a file"),
            "{e}"
        );
        let tmp = tempfile::tempdir().unwrap();
        let runc = tmp.path().join("c1");
        fs::create_dir(&runc).unwrap();
        fs::write(
            runc.join("state.json"),
            r#"{"id":"c1","init_process_pid":7}"#,
        )
        .unwrap();
        let e = ForeignRoots::new(&[tmp.path().into()], Path::new("/run/joltd")).unwrap_err();
        assert!(e.to_string().contains("c1/state.json is not jolt's"), "{e}");
        let e = ForeignRoots::new(&["/run/joltd".into()], Path::new("/run/joltd")).unwrap_err();
        assert!(e.to_string().contains("is joltd's own --jolt-root"), "{e}");
    }

    #[test]
    fn an_empty_root_and_namespace_dirs_are_fine() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("default")).unwrap();
        let roots = ForeignRoots::new(&[tmp.path().into()], Path::new("/run/joltd")).unwrap();
        assert!(roots.scan().is_empty());
    }

    /// Writes jolt's state of a container `id` whose init is this test.
    fn jolt_state(dir: &Path, id: &str) {
        jolt_state_in(dir, id, &format!("/test/{id}"));
    }

    /// [`jolt_state`] with its cgroup `cgroup`, replacing the file whole
    /// as jolt does.
    fn jolt_state_in(dir: &Path, id: &str, cgroup: &str) {
        let pid = std::process::id() as i32;
        let record = Record {
            id: id.into(),
            pid,
            pid_start: jolt_runtime::pidfd::start_time(pid).unwrap(),
            status: Status::Running,
            bundle: "/nonexistent".into(),
            rootfs: "/nonexistent/rootfs".into(),
            created: "2026-12-05T00:00:00Z".into(),
            owner: "root".into(),
            cgroup_path: cgroup.into(),
            cgroup_driver: Default::default(),
            config: Default::default(),
        };
        fs::create_dir_all(dir.join(id)).unwrap();
        let tmp = dir.join(id).join("state.json.tmp");
        fs::write(&tmp, serde_json::to_vec(&record).unwrap()).unwrap();
        fs::rename(tmp, dir.join(id).join("state.json")).unwrap();
    }

    #[test]
    fn a_changed_state_is_read_again_and_a_removed_one_forgotten() {
        let tmp = tempfile::tempdir().unwrap();
        jolt_state_in(tmp.path(), "c1", "/a");
        let roots = ForeignRoots::new(&[tmp.path().into()], Path::new("/run/joltd")).unwrap();
        let cgroups = |roots: &ForeignRoots| -> Vec<String> {
            roots.scan().into_iter().map(|f| f.running.cgroup).collect()
        };
        assert_eq!(cgroups(&roots), ["/a"]);
        assert_eq!(cgroups(&roots), ["/a"], "unchanged, from what was read");
        jolt_state_in(tmp.path(), "c1", "/b");
        assert_eq!(cgroups(&roots), ["/b"]);
        fs::remove_dir_all(tmp.path().join("c1")).unwrap();
        assert!(cgroups(&roots).is_empty());
        assert!(roots.parsed.lock().unwrap().is_empty(), "forgotten");
    }

    #[test]
    fn the_same_id_in_two_containerd_namespaces_is_two_containers() {
        let tmp = tempfile::tempdir().unwrap();
        jolt_state(&tmp.path().join("shop"), "web1");
        jolt_state(&tmp.path().join("default"), "web1");
        let roots = ForeignRoots::new(&[tmp.path().into()], Path::new("/run/joltd")).unwrap();
        let mut found: Vec<(String, String, String)> = roots
            .scan()
            .into_iter()
            .map(|f| (f.running.id, f.running.name, f.running.origin))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                (
                    "default:web1".into(),
                    "web1".into(),
                    "containerd/default".into()
                ),
                ("shop:web1".into(), "web1".into(), "containerd/shop".into()),
            ]
        );
        let flat = tempfile::tempdir().unwrap();
        jolt_state(flat.path(), "c1");
        let twice = [flat.path().to_path_buf(), flat.path().to_path_buf()];
        let roots = ForeignRoots::new(&twice, Path::new("/run/joltd")).unwrap();
        let found = roots.scan();
        assert_eq!(found.len(), 1, "one container, listed once");
        assert_eq!(
            (found[0].running.origin.as_str(), found[0].status),
            ("jolt", Status::Running)
        );
    }

    #[test]
    fn podman_names_come_from_containers_json_beside_the_bundle() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("vfs-containers");
        fs::create_dir_all(store.join("abc/userdata")).unwrap();
        fs::write(
            store.join("containers.json"),
            r#"[{"id":"abc","names":["web"],"image":"x"},{"id":"def","names":[]}]"#,
        )
        .unwrap();
        let mut names = Names::default();
        assert_eq!(
            names.podman(&store.join("abc/userdata"), "abc"),
            Some("web".into())
        );
        assert_eq!(names.podman(&store.join("def/userdata"), "def"), None);
    }
}
