//! netns: named network namespaces, each a bind mount of a namespace file
//! (`<dir>/<container>`, by default /run/jolt/netns/<container>) that a
//! bundle joins through `linux.namespaces[].path`; and the dedicated
//! threads that do work inside a namespace.
//!
//! Owns creating and removing those mounts, and `setns`: only ever on a
//! std thread spawned for the purpose, which ends when the work is done,
//! so no async runtime worker or caller thread changes namespace. It does
//! not configure what is inside a namespace (see `veth`, `bridge`).

use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::statfs::{statfs, NSFS_MAGIC};

use super::error::Error;

/// Whether `path` is a mounted namespace file.
pub(crate) fn is_mounted(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == NSFS_MAGIC)
}

/// Makes a new network namespace and bind-mounts it at `path`. Returns
/// false, changing nothing, when one is mounted there already. On error
/// nothing is left at `path`.
pub(crate) fn create(path: &Path) -> Result<bool, Error> {
    if is_mounted(path) {
        return Ok(false);
    }
    let what = || format!("creating network namespace {}", path.display());
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(Error::io(what()))?;
    }
    // An empty file left by a crash between these steps is reused.
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o444)
        .open(path)
        .map_err(Error::io(what()))?;
    let made = std::thread::scope(|s| {
        s.spawn(|| -> io::Result<()> {
            unshare(CloneFlags::CLONE_NEWNET)?;
            mount(
                Some("/proc/thread-self/ns/net"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )?;
            Ok(())
        })
        .join()
        .expect("netns thread panicked")
    });
    made.map_err(|e| {
        let _ = fs::remove_file(path);
        Error::io(what())(e)
    })?;
    Ok(true)
}

/// Unmounts and removes the namespace file at `path`; nothing there is
/// not an error. The namespace itself goes when its last user does.
pub(crate) fn remove(path: &Path) -> Result<(), Error> {
    let what = || format!("removing network namespace {}", path.display());
    if is_mounted(path) {
        umount2(path, MntFlags::MNT_DETACH).map_err(|e| Error::io(what())(e.into()))?;
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(what())(e)),
        _ => Ok(()),
    }
}

/// Opens the namespace file at `path` (to pass its fd to the kernel).
pub(crate) fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(Error::io(format!(
        "opening network namespace {}",
        path.display()
    )))
}

/// Runs `work` on a new thread that first entered the network namespace
/// at `ns` (or stayed in the caller's when None), and waits for it.
pub(crate) fn run_in<T, F>(ns: Option<&Path>, work: F) -> Result<T, Error>
where
    T: Send,
    F: FnOnce() -> Result<T, Error> + Send,
{
    let ns_file = ns.map(open).transpose()?;
    std::thread::scope(|s| {
        s.spawn(move || {
            if let (Some(file), Some(path)) = (ns_file, ns) {
                setns(file, CloneFlags::CLONE_NEWNET).map_err(|e| Error::Io {
                    what: format!("entering network namespace {}", path.display()),
                    source: e.into(),
                })?;
            }
            work()
        })
        .join()
        .expect("netns thread panicked")
    })
}

/// Runs `work` with an rtnetlink handle whose socket lives in the network
/// namespace at `ns` (see [`run_in`]), on a current-thread tokio runtime
/// that exists only on that thread.
pub(crate) fn netlink<T, F, Fut>(ns: Option<&Path>, work: F) -> Result<T, Error>
where
    T: Send,
    F: FnOnce(rtnetlink::Handle) -> Fut + Send,
    Fut: Future<Output = Result<T, Error>>,
{
    run_in(ns, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(Error::io("starting a netlink runtime"))?;
        runtime.block_on(async move {
            let (connection, handle, _) =
                rtnetlink::new_connection().map_err(Error::io("opening a netlink socket"))?;
            tokio::spawn(connection);
            work(handle).await
        })
    })
}
