//! rootfs: the container's mount namespace, from the bundle's rootfs to `/`.
//!
//! Owns mount propagation, every `mounts[]` entry, device nodes and /dev
//! symlinks, sysctls, readonly and masked paths, the read-only root, and the
//! final pivot_root (or MS_MOVE + chroot). Every destination is resolved
//! inside the rootfs one component at a time with O_PATH|O_NOFOLLOW and
//! mounted through the resolved fd, so a symlink can neither redirect a
//! mount to the host nor be swapped in between the check and the mount.
//! It does not create namespaces or the cgroup; it only reads the cgroup's
//! host directories to show them at /sys/fs/cgroup.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{fstat, makedev, mkdirat, Mode, SFlag};
use nix::unistd::{fchownat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use crate::sys;
use crate::syscall::{fd_path, Syscall};

mod copyup;
mod options;

pub use options::{names as mount_option_names, parse as parse_options, propagation, MountOptions};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error(transparent)]
    Sys(#[from] crate::SysError),
    #[error("{path}: escapes the rootfs{via}")]
    Escape { path: PathBuf, via: String },
    #[error("{0}")]
    Invalid(String),
}

/// What kind of file to create when a destination does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    No,
    Dir,
    File,
}

/// Facts about the container that shape its mounts, decided by the caller.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub no_pivot: bool,
    /// In a new user namespace device nodes cannot be made: bind them.
    pub in_user_ns: bool,
    /// Whether the container has a cgroup namespace of its own.
    pub cgroup_ns: bool,
    pub cgroup_v2: bool,
    /// The container's cgroup directories on the host (see cgroups).
    pub cgroup_dirs: Vec<(String, PathBuf)>,
    /// Bind sources opened on the host (see [`open_bind_sources`]): the
    /// index in `mounts` and a detached mount of the source.
    pub bind_sources: Vec<(usize, std::os::fd::RawFd)>,
}

/// Opens the source of every bind mount in `spec` on the host, as a
/// detached clone of its mount (open_tree OPEN_TREE_CLONE, with the mounts
/// below for rbind), as runc does for a container in a new user namespace:
/// its mapped root may not be allowed to reach the source, which the
/// runtime can.
pub fn open_bind_sources(spec: &Spec, bundle: &Path) -> Result<Vec<(usize, OwnedFd)>, RootfsError> {
    let mut opened = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let o = parse_options(m.options().as_deref().unwrap_or_default());
        let (true, Some(source)) = (o.bind || m.typ().as_deref() == Some("bind"), m.source())
        else {
            continue;
        };
        let source = bundle.join(source);
        let path = std::ffi::CString::new(source.as_os_str().as_encoded_bytes()).map_err(|_| {
            RootfsError::Invalid(format!("mounts[{i}].source: contains a NUL byte"))
        })?;
        let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
        if o.recursive {
            flags |= libc::AT_RECURSIVE as libc::c_uint;
        }
        // SAFETY: open_tree with a NUL-terminated path; we own the result.
        let fd =
            unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
        let fd = Errno::result(fd).map_err(sys(format!(
            "mounts[{i}].source {}: open_tree",
            source.display()
        )))?;
        // SAFETY: open_tree returned a new descriptor we own.
        opened.push((i, unsafe { OwnedFd::from_raw_fd(fd as i32) }));
    }
    Ok(opened)
}

/// Refuses options a mount would drop without a word (checked with
/// config.json, before anything is made): the kernel ignores the data of a
/// bind mount, and jolt mounts a cgroup without any, so an option jolt does
/// not know there (a misspelt `rro`) is an error; `tmpcopyup` is for tmpfs.
pub fn check_options(m: &Mount) -> Result<(), String> {
    let typ = m.typ().as_deref().unwrap_or("");
    let o = parse_options(m.options().as_deref().unwrap_or_default());
    let bind = o.bind || typ == "bind";
    if (bind || typ == "cgroup" || typ == "cgroup2") && !o.data.is_empty() {
        return Err(format!(
            "unknown mount option {:?}: a {} mount passes no options to a filesystem \
             (`jolt features` lists the options jolt knows)",
            o.data.join(","),
            if bind { "bind" } else { typ }
        ));
    }
    if o.copy_up && (bind || typ != "tmpfs") {
        return Err("tmpcopyup: only a tmpfs mount can copy up what it covers".into());
    }
    Ok(())
}

/// The rootfs of one container being set up.
pub struct Rootfs<'a, S: Syscall> {
    sys: &'a S,
    path: PathBuf,
    bundle: PathBuf,
    root: OwnedFd,
    /// The container has no mount namespace of its own and inherits the
    /// runtime's: nothing is mounted (the spec check refused any mount),
    /// and entering the rootfs is a chroot.
    shared: bool,
}

/// The flags a bind remount must keep: in a user namespace the kernel
/// refuses to clear nosuid, nodev or noexec on a mount that had them.
fn locked_flags(fd: &impl AsFd) -> MsFlags {
    let mut flags = MsFlags::empty();
    if let Ok(st) = nix::sys::statvfs::fstatvfs(fd) {
        use nix::sys::statvfs::FsFlags;
        let f = st.flags();
        for (fs, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(fs) {
                flags |= ms;
            }
        }
    }
    flags
}

const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
];

impl<'a, S: Syscall> Rootfs<'a, S> {
    /// Sets the propagation of `/` and makes the rootfs a mount point of
    /// its own, then opens it. Call in the container's mount namespace.
    pub fn mount_root(
        kernel: &'a S,
        spec: &Spec,
        rootfs: &Path,
        bundle: &Path,
    ) -> Result<Self, RootfsError> {
        let wanted = root_propagation(spec)?;
        // Shared propagation is applied after pivot_root, which refuses a
        // shared parent; until then, slave keeps host mounts flowing in.
        let initial = if wanted.contains(MsFlags::MS_SHARED) {
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        } else {
            wanted
        };
        kernel
            .mount(None, Path::new("/"), None, initial, None)
            .map_err(sys_err("making / ", initial))?;
        kernel
            .mount(
                Some(rootfs),
                rootfs,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
            .map_err(sys(format!("bind mount rootfs {}", rootfs.display())))?;
        Rootfs::open(kernel, rootfs, bundle, false)
    }

    /// The rootfs of a container without a mount namespace of its own
    /// (the runtime spec: an unlisted namespace is inherited): opened,
    /// nothing mounted.
    pub fn in_runtime_namespace(
        kernel: &'a S,
        rootfs: &Path,
        bundle: &Path,
    ) -> Result<Self, RootfsError> {
        Rootfs::open(kernel, rootfs, bundle, true)
    }

    fn open(
        kernel: &'a S,
        rootfs: &Path,
        bundle: &Path,
        shared: bool,
    ) -> Result<Self, RootfsError> {
        let root = nix::fcntl::open(
            rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys(format!("open rootfs {}", rootfs.display())))?;
        Ok(Rootfs {
            sys: kernel,
            path: rootfs.to_path_buf(),
            bundle: bundle.to_path_buf(),
            root,
            shared,
        })
    }

    /// Resolves `path` as the container will see it: `/` is the rootfs,
    /// absolute symlinks restart at the rootfs, and `..` above it is an
    /// error. Missing components are created when `create` says so.
    pub fn resolve(&self, path: &Path, create: Create) -> Result<OwnedFd, RootfsError> {
        resolve_in(&self.root, path, create)
    }

    /// Like `resolve`, but a missing path is `None`: readonly and masked
    /// paths that do not exist are skipped, as runc does.
    fn resolve_existing(&self, path: &Path) -> Result<Option<OwnedFd>, RootfsError> {
        match self.resolve(path, Create::No) {
            Err(RootfsError::Sys(crate::SysError {
                errno: Errno::ENOENT,
                ..
            })) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Mounts every `mounts[]` entry, in order.
    pub fn mount_all(&self, spec: &Spec, opts: &Options) -> Result<(), RootfsError> {
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            self.mount_one(i, m, opts).map_err(|e| match e {
                RootfsError::Escape { path, via } => RootfsError::Escape {
                    path: format!("mounts[{i}].destination {}", path.display()).into(),
                    via,
                },
                e => RootfsError::Invalid(format!(
                    "mounts[{i}] ({}): {e}",
                    m.destination().display()
                )),
            })?;
        }
        Ok(())
    }

    fn mount_one(&self, index: usize, m: &Mount, opts: &Options) -> Result<(), RootfsError> {
        let dest = m.destination();
        let typ = m.typ().as_deref().unwrap_or("");
        let o = parse_options(m.options().as_deref().unwrap_or_default());
        let bind = o.bind || typ == "bind";
        let cgroup = typ == "cgroup" || typ == "cgroup2";
        let opened = opts.bind_sources.iter().find(|(i, _)| *i == index);
        if let (true, Some((_, fd))) = (bind, opened) {
            // SAFETY: create opened it for this mount and keeps it open.
            self.attach(unsafe { BorrowedFd::borrow_raw(*fd) }, dest, &o)?;
        } else if bind {
            let source = m
                .source()
                .as_ref()
                .ok_or_else(|| RootfsError::Invalid("a bind mount needs a source".into()))?;
            let source = self.bundle.join(source);
            self.bind(&source, dest, &o)?;
        } else if cgroup {
            self.mount_cgroup(dest, &o, opts)?;
        } else {
            if typ == "proc" || typ == "sysfs" {
                self.refuse_non_directory(dest, typ)?;
            }
            self.mount_filesystem(m, typ, &o, opts)?;
        }
        if !o.attr.is_empty() {
            let target = self.resolve(dest, Create::No)?;
            self.sys
                .mount_setattr(target.as_fd(), o.attr.set, o.attr.clear)
                .map_err(sys("mount_setattr (recursive mount options)"))?;
        }
        for p in &o.propagation {
            let target = self.resolve(dest, Create::No)?;
            self.sys
                .mount(None, &fd_path(&target), None, *p, None)
                .map_err(sys_err("setting propagation ", *p))?;
        }
        Ok(())
    }

    /// A procfs or sysfs goes on a directory of the rootfs, never through
    /// a symlink: an image whose /proc is a link to a directory of fake
    /// files would otherwise get the real procfs there and keep its own
    /// /proc (CVE-2019-16884); runc refuses it too.
    fn refuse_non_directory(&self, dest: &Path, typ: &str) -> Result<(), RootfsError> {
        let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
            return Ok(());
        };
        let Some(dir) = self.resolve_existing(parent)? else {
            return Ok(());
        };
        match nix::sys::stat::fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR => {
                Err(RootfsError::Invalid(format!(
                    "filesystem {typ:?} must be mounted on an ordinary directory, and {} is not \
                     (a symlink or a file in the image)",
                    dest.display()
                )))
            }
            _ => Ok(()),
        }
    }

    /// Mounts a filesystem (tmpfs, proc, ...) with its data; with
    /// `tmpcopyup`, fills it with a copy of the directory it covers. A
    /// tmpfs and /dev are mounted writable whatever they ask: mounts, device
    /// nodes and copies go below them first, and [`Rootfs::remount_read_only`]
    /// makes them read-only after, as runc does.
    fn mount_filesystem(
        &self,
        m: &Mount,
        typ: &str,
        o: &MountOptions,
        opts: &Options,
    ) -> Result<(), RootfsError> {
        let dest = m.destination();
        let target = self.resolve(dest, Create::Dir)?;
        let covered = if o.copy_up {
            let dir = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
            Some(openat(&target, ".", dir, Mode::empty()).map_err(sys("tmpcopyup: open"))?)
        } else {
            None
        };
        let source = m.source().clone().unwrap_or_else(|| typ.into());
        let data = o.data.join(",");
        let data = (!data.is_empty()).then_some(data.as_str());
        let mut flags = o.flags;
        if delays_read_only(typ, dest) {
            flags.remove(MsFlags::MS_RDONLY);
        }
        let what = match data {
            Some(d) => format!("mount {typ} -o {d}"),
            None => format!("mount {typ}"),
        };
        match self
            .sys
            .mount(Some(&source), &fd_path(&target), Some(typ), flags, data)
        {
            // sysfs belongs to the network namespace's owner; from a user
            // namespace over a joined host netns it can only be bound.
            Err(Errno::EPERM) if typ == "sysfs" && opts.in_user_ns => {
                let mut o = o.clone();
                o.recursive = true;
                return self.bind(Path::new("/sys"), dest, &o);
            }
            r => r.map_err(sys(what))?,
        }
        if let Some(covered) = covered {
            let mounted = self.resolve(dest, Create::No)?;
            let dir = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
            let mounted =
                openat(&mounted, ".", dir, Mode::empty()).map_err(sys("tmpcopyup: open"))?;
            copyup::copy_dir(&covered, &mounted)
                .map_err(|e| RootfsError::Invalid(format!("tmpcopyup: {e}")))?;
        }
        Ok(())
    }

    /// Makes read-only the tmpfs mounts and /dev that asked for it, once
    /// everything below them is in place (see `mount_filesystem`).
    pub fn remount_read_only(&self, spec: &Spec) -> Result<(), RootfsError> {
        for m in spec.mounts().iter().flatten() {
            let typ = m.typ().as_deref().unwrap_or("");
            let o = parse_options(m.options().as_deref().unwrap_or_default());
            let bind = o.bind || typ == "bind";
            if bind
                || !o.flags.contains(MsFlags::MS_RDONLY)
                || !delays_read_only(typ, m.destination())
            {
                continue;
            }
            let mounted = self.resolve(m.destination(), Create::No)?;
            let source = m.source().clone().unwrap_or_else(|| typ.into());
            let data = o.data.join(",");
            let data = (!data.is_empty()).then_some(data.as_str());
            let flags = o.flags | MsFlags::MS_REMOUNT;
            self.sys
                .mount(Some(&source), &fd_path(&mounted), Some(typ), flags, data)
                .map_err(sys_err("remount ", flags))?;
        }
        Ok(())
    }

    /// Binds a host path at `dest`, then remounts it with the flags bind
    /// ignores (ro, nosuid, ...).
    fn bind(&self, source: &Path, dest: &Path, o: &MountOptions) -> Result<(), RootfsError> {
        let meta = fs::metadata(source)
            .map_err(|e| RootfsError::Invalid(format!("source {}: {e}", source.display())))?;
        let create = if meta.is_dir() {
            Create::Dir
        } else {
            Create::File
        };
        let target = self.resolve(dest, create)?;
        let src = nix::fcntl::open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(sys(format!("open source {}", source.display())))?;
        let mut flags = MsFlags::MS_BIND;
        if o.recursive {
            flags |= MsFlags::MS_REC;
        }
        self.sys
            .mount(Some(&fd_path(&src)), &fd_path(&target), None, flags, None)
            .map_err(sys(format!("bind {}", source.display())))?;
        self.remount_bind(dest, o)
    }

    /// Attaches a bind source opened on the host (a detached mount) at
    /// `dest` with move_mount(2), then remounts it as `bind` does.
    fn attach(&self, tree: BorrowedFd, dest: &Path, o: &MountOptions) -> Result<(), RootfsError> {
        let st = fstat(tree).map_err(sys("fstat a bind source"))?;
        let create = match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFDIR => Create::Dir,
            _ => Create::File,
        };
        let target = self.resolve(dest, create)?;
        self.sys
            .move_mount(tree, target.as_fd())
            .map_err(sys(format!("attach the bind source of {}", dest.display())))?;
        self.remount_bind(dest, o)
    }

    /// Remounts a bind mount at `dest` with the flags bind ignores.
    fn remount_bind(&self, dest: &Path, o: &MountOptions) -> Result<(), RootfsError> {
        let extra = o.flags & !(MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            let mounted = self.resolve(dest, Create::No)?;
            let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | locked_flags(&mounted);
            self.sys
                .mount(None, &fd_path(&mounted), None, flags, None)
                .map_err(sys_err("remount ", flags))?;
        }
        Ok(())
    }

    /// /sys/fs/cgroup shows the container's own cgroup. On v2 with a cgroup
    /// namespace that is a cgroup2 mount; otherwise (v1, or v2 without one)
    /// the container's host directories are bound in, as runc does.
    fn mount_cgroup(
        &self,
        dest: &Path,
        o: &MountOptions,
        opts: &Options,
    ) -> Result<(), RootfsError> {
        let flags = o.flags & !MsFlags::MS_RDONLY;
        let ro = o.flags.contains(MsFlags::MS_RDONLY);
        let bind_opts = MountOptions {
            flags: if ro {
                MsFlags::MS_RDONLY
            } else {
                MsFlags::empty()
            } | flags,
            recursive: true,
            ..Default::default()
        };
        if opts.cgroup_v2 {
            if opts.cgroup_ns {
                let target = self.resolve(dest, Create::Dir)?;
                return self
                    .sys
                    .mount(
                        Some(Path::new("cgroup2")),
                        &fd_path(&target),
                        Some("cgroup2"),
                        o.flags,
                        None,
                    )
                    .map_err(|e| sys("mount cgroup2")(e).into());
            }
            let (_, dir) = opts.cgroup_dirs.first().ok_or_else(|| {
                RootfsError::Invalid("the container's cgroup has no directory".into())
            })?;
            return self.bind(dir, dest, &bind_opts);
        }
        let target = self.resolve(dest, Create::Dir)?;
        self.sys
            .mount(
                Some(Path::new("tmpfs")),
                &fd_path(&target),
                Some("tmpfs"),
                flags,
                Some("mode=755"),
            )
            .map_err(sys("mount tmpfs for cgroups"))?;
        // A hybrid host's cgroup2 hierarchy is not shown, as with runc.
        let v1 = opts
            .cgroup_dirs
            .iter()
            .filter(|(n, _)| n != crate::cgroups::HYBRID_UNIFIED);
        for (name, dir) in v1 {
            self.bind(dir, &dest.join(name), &bind_opts)?;
        }
        if ro {
            let mounted = self.resolve(dest, Create::No)?;
            let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags;
            self.sys
                .mount(
                    Some(Path::new("tmpfs")),
                    &fd_path(&mounted),
                    Some("tmpfs"),
                    flags,
                    Some("mode=755"),
                )
                .map_err(sys_err("remount ", flags))?;
        }
        Ok(())
    }

    /// Makes the default devices (when /dev is a fresh mount), the devices
    /// in `linux.devices`, the /dev/fd and stdio symlinks and /dev/ptmx.
    pub fn create_devices(
        &self,
        spec: &Spec,
        opts: &Options,
        host_uid: impl Fn(u32) -> u32,
        host_gid: impl Fn(u32) -> u32,
    ) -> Result<(), RootfsError> {
        let mounts = spec.mounts().as_deref().unwrap_or_default();
        // A /dev bound from the host is the host's: make nothing in it (as
        // runc's needsSetupDev).
        let host_dev = mounts.iter().any(|m| {
            m.destination() == Path::new("/dev")
                && (parse_options(m.options().as_deref().unwrap_or_default()).bind
                    || m.typ().as_deref() == Some("bind"))
        });
        if host_dev {
            return Ok(());
        }
        // Without a mount namespace /dev is the image's own directory on
        // the host: only the devices the config names go in.
        if !self.shared {
            self.default_devices(mounts, opts)?;
        }
        self.config_devices(spec, opts, host_uid, host_gid)
    }

    /// runc's default devices, the /dev/fd and stdio links, and /dev/ptmx.
    fn default_devices(&self, mounts: &[Mount], opts: &Options) -> Result<(), RootfsError> {
        for (name, major, minor) in DEFAULT_DEVICES {
            let path = Path::new("/dev").join(name);
            self.device(&path, SFlag::S_IFCHR, *major, *minor, 0o666, 0, 0, opts)?;
        }
        let dev = self.resolve(Path::new("/dev"), Create::Dir)?;
        for (target, name) in DEV_SYMLINKS {
            match nix::unistd::symlinkat(*target, dev.as_fd(), *name) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(sys(format!("symlink /dev/{name}"))(e).into()),
            }
        }
        if mounts
            .iter()
            .any(|m| m.destination() == Path::new("/dev/pts"))
        {
            match unlinkat(dev.as_fd(), "ptmx", UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(sys("remove /dev/ptmx")(e).into()),
            }
            nix::unistd::symlinkat("pts/ptmx", dev.as_fd(), "ptmx")
                .map_err(sys("symlink /dev/ptmx"))?;
        }
        Ok(())
    }

    /// `linux.devices`, owned as the config says (in host ids).
    fn config_devices(
        &self,
        spec: &Spec,
        opts: &Options,
        host_uid: impl Fn(u32) -> u32,
        host_gid: impl Fn(u32) -> u32,
    ) -> Result<(), RootfsError> {
        let linux = spec.linux().as_ref();
        for d in linux
            .and_then(|l| l.devices().as_ref())
            .into_iter()
            .flatten()
        {
            let (kind, mode) = device_kind(d)?;
            let uid = host_uid(d.uid().unwrap_or(0));
            let gid = host_gid(d.gid().unwrap_or(0));
            self.device(
                d.path(),
                kind,
                d.major() as u64,
                d.minor() as u64,
                mode,
                uid,
                gid,
                opts,
            )?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn device(
        &self,
        path: &Path,
        kind: SFlag,
        major: u64,
        minor: u64,
        mode: u32,
        uid: u32,
        gid: u32,
        opts: &Options,
    ) -> Result<(), RootfsError> {
        if opts.in_user_ns {
            // mknod is not allowed in a user namespace: bind the host's node.
            let bind = MountOptions {
                bind: true,
                ..Default::default()
            };
            return self.bind(path, path, &bind);
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path
            .file_name()
            .and_then(OsStr::to_str)
            .ok_or_else(|| RootfsError::Invalid(format!("device path {}", path.display())))?;
        let dir = self.resolve(parent, Create::Dir)?;
        // Whatever is already there stays: replacing it could delete a file
        // of the rootfs's owner (runc keeps it too).
        match self.sys.mknod(
            dir.as_fd(),
            name,
            kind,
            Mode::from_bits_truncate(mode),
            makedev(major, minor),
        ) {
            Err(Errno::EEXIST) => return Ok(()),
            r => r.map_err(sys(format!("mknod {}", path.display())))?,
        }
        let owner = fchownat(
            dir.as_fd(),
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        // mknod applied the umask: set the mode the spec asked for.
        let mode = owner.and_then(|()| {
            nix::sys::stat::fchmodat(
                dir.as_fd(),
                name,
                Mode::from_bits_truncate(mode),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
        });
        match mode {
            // The recorder in tests makes no node to chown.
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(sys(format!("chown/chmod {}", path.display()))(e).into()),
        }
    }

    /// Writes `linux.sysctl` through /proc/sys, which shows the calling
    /// process's namespaces.
    pub fn write_sysctls(&self, spec: &Spec) -> Result<(), RootfsError> {
        let sysctl = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref());
        for (key, value) in sysctl.into_iter().flatten() {
            let path = Path::new("/proc/sys").join(key.replace('.', "/"));
            fs::write(&path, value)
                .map_err(|e| RootfsError::Invalid(format!("linux.sysctl.{key}: {e}")))?;
        }
        Ok(())
    }

    /// Read-only bind mounts over `linux.readonlyPaths`; missing paths are
    /// skipped, as runc does.
    pub fn readonly_paths(&self, spec: &Spec) -> Result<(), RootfsError> {
        let paths = spec
            .linux()
            .as_ref()
            .and_then(|l| l.readonly_paths().as_ref());
        for p in paths.into_iter().flatten() {
            let Some(fd) = self.resolve_existing(Path::new(p))? else {
                continue;
            };
            let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
            self.sys
                .mount(Some(&fd_path(&fd)), &fd_path(&fd), None, flags, None)
                .map_err(sys(format!("readonlyPaths {p}")))?;
            let mounted = self.resolve(Path::new(p), Create::No)?;
            let flags = MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | locked_flags(&mounted);
            self.sys
                .mount(None, &fd_path(&mounted), None, flags, None)
                .map_err(sys(format!("readonlyPaths {p}: remount read-only")))?;
        }
        Ok(())
    }

    /// Hides `linux.maskedPaths`: a read-only tmpfs over directories, the
    /// host's /dev/null over files (checked to be the real 1:3 device).
    pub fn masked_paths(&self, spec: &Spec) -> Result<(), RootfsError> {
        let paths = spec
            .linux()
            .as_ref()
            .and_then(|l| l.masked_paths().as_ref());
        let mut null: Option<OwnedFd> = None;
        for p in paths.into_iter().flatten() {
            let Some(fd) = self.resolve_existing(Path::new(p))? else {
                continue;
            };
            let st = fstat(&fd).map_err(sys(format!("maskedPaths {p}")))?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
                self.sys
                    .mount(
                        Some(Path::new("tmpfs")),
                        &fd_path(&fd),
                        Some("tmpfs"),
                        MsFlags::MS_RDONLY,
                        None,
                    )
                    .map_err(sys(format!("maskedPaths {p}")))?;
            } else {
                if null.is_none() {
                    null = Some(dev_null()?);
                }
                let null = null.as_ref().expect("opened above");
                self.sys
                    .mount(
                        Some(&fd_path(null)),
                        &fd_path(&fd),
                        None,
                        MsFlags::MS_BIND,
                        None,
                    )
                    .map_err(sys(format!("maskedPaths {p}")))?;
            }
        }
        Ok(())
    }

    /// Remounts the rootfs read-only when `root.readonly` is set.
    pub fn readonly_root(&self, spec: &Spec) -> Result<(), RootfsError> {
        if !spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false)
        {
            return Ok(());
        }
        let flags =
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(&self.root);
        self.sys
            .mount(None, &fd_path(&self.root), None, flags, None)
            .map_err(|e| sys("root.readonly: remount the rootfs read-only")(e).into())
    }

    /// `--no-pivot` keeps the host's mounts under the rootfs: detach its
    /// full procfs and sysfs mounts (see [`revealing`]) or, where the kernel
    /// refuses (mounts a user namespace locked), cover each with an empty
    /// read-only tmpfs, as runc does.
    fn hide_host_proc_and_sys(&self) -> Result<(), RootfsError> {
        let k = self.sys;
        let text = k
            .mountinfo()
            .map_err(|e| RootfsError::Invalid(format!("read /proc/self/mountinfo: {e}")))?;
        let rootfs = fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        for point in revealing(&crate::mountinfo::parse(&text), &rootfs) {
            let slave = MsFlags::MS_SLAVE | MsFlags::MS_REC;
            match k.mount(None, &point, None, slave, None) {
                // Gone with a mount detached before it.
                Err(Errno::ENOENT) => continue,
                r => r.map_err(sys(format!("making {} a slave", point.display())))?,
            }
            match k.umount(&point, MntFlags::MNT_DETACH) {
                Err(Errno::EINVAL | Errno::EPERM) => {
                    let flags = MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC;
                    k.mount(Some(Path::new("tmpfs")), &point, Some("tmpfs"), flags, None)
                        .map_err(sys(format!("covering {}", point.display())))?
                }
                r => r.map_err(sys(format!("detaching {}", point.display())))?,
            }
        }
        Ok(())
    }

    /// Makes the rootfs `/`: pivot_root and detach the old root, or with
    /// `no_pivot` move it over `/` and chroot; in the runtime's own mount
    /// namespace only chroot.
    pub fn enter(self, spec: &Spec, no_pivot: bool) -> Result<(), RootfsError> {
        let here = Path::new(".");
        let k = self.sys;
        k.chdir(&self.path)
            .map_err(sys(format!("chdir {}", self.path.display())))?;
        if self.shared {
            k.chroot(here).map_err(sys("chroot"))?;
            return k
                .chdir(Path::new("/"))
                .map_err(|e| sys("chdir /")(e).into());
        }
        if no_pivot {
            self.hide_host_proc_and_sys()?;
            k.mount(Some(here), Path::new("/"), None, MsFlags::MS_MOVE, None)
                .map_err(sys("move the rootfs over /"))?;
            k.chroot(here).map_err(sys("chroot"))?;
        } else {
            k.pivot_root(here, here).map_err(sys("pivot_root"))?;
            // The old root is stacked under the new one: keep its unmount
            // from propagating to the host, then detach it.
            k.mount(None, here, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
                .map_err(sys("making the old root a slave"))?;
            k.umount(here, MntFlags::MNT_DETACH)
                .map_err(sys("detaching the old root"))?;
        }
        k.chdir(Path::new("/")).map_err(sys("chdir /"))?;
        let wanted = root_propagation(spec)?;
        if wanted.contains(MsFlags::MS_SHARED) {
            k.mount(None, Path::new("/"), None, wanted, None)
                .map_err(sys("rootfsPropagation"))?;
        }
        Ok(())
    }
}

/// The mount points of full procfs and sysfs mounts outside `rootfs`,
/// deepest first: what a `--no-pivot` container must detach or cover.
/// Without pivot_root the host's mounts stay in the container's mount
/// namespace, under the rootfs moved over `/`; the kernel lets a process
/// that made a user namespace mount a fresh procfs or sysfs when one of the
/// same kind is fully visible in its mount namespace, and the fresh one
/// would show what maskedPaths hides.
fn revealing(mounts: &[crate::mountinfo::MountEntry], rootfs: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = mounts
        .iter()
        .filter(|m| m.root == "/" && (m.fs_type == "proc" || m.fs_type == "sysfs"))
        .filter(|m| !m.mount_point.starts_with(rootfs))
        .map(|m| m.mount_point.clone())
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// Whether a mount is made writable first and read-only at the end.
fn delays_read_only(typ: &str, dest: &Path) -> bool {
    typ == "tmpfs" || dest.components().eq(Path::new("/dev").components())
}

fn sys_err(prefix: &'static str, flags: MsFlags) -> impl FnOnce(Errno) -> crate::SysError {
    sys(format!("{prefix}{flags:?}"))
}

fn root_propagation(spec: &Spec) -> Result<MsFlags, RootfsError> {
    let p = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone());
    match p {
        None => Ok(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        Some(p) => propagation(&p).ok_or_else(|| {
            RootfsError::Invalid(format!("linux.rootfsPropagation: unknown value {p:?}"))
        }),
    }
}

fn device_kind(d: &LinuxDevice) -> Result<(SFlag, u32), RootfsError> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(RootfsError::Invalid(format!(
                "linux.devices {}: type \"a\" is not a device node",
                d.path().display()
            )))
        }
    };
    Ok((kind, d.file_mode().unwrap_or(0o666)))
}

/// Opens the host's /dev/null and checks that it is the real device.
fn dev_null() -> Result<OwnedFd, RootfsError> {
    let fd = nix::fcntl::open(
        "/dev/null",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open /dev/null"))?;
    let st = fstat(&fd).map_err(sys("stat /dev/null"))?;
    let is_chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_chr || st.st_rdev != makedev(1, 3) {
        return Err(RootfsError::Invalid(
            "/dev/null is not the character device 1:3: refusing to mask paths with it".into(),
        ));
    }
    Ok(fd)
}

/// Checks, before anything is created, that no path the spec names inside
/// the container (mount destinations, masked and readonly paths, devices)
/// leaves the rootfs through `..` or a symlink. Missing paths are fine:
/// they are created, inside, at mount time, where the check runs again.
pub fn check_paths(rootfs: &Path, spec: &Spec) -> Result<(), (String, RootfsError)> {
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        (
            "root.path".to_string(),
            sys(rootfs.display().to_string())(e).into(),
        )
    })?;
    let linux = spec.linux().as_ref();
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        paths.push((format!("mounts[{i}].destination"), m.destination().clone()));
    }
    for (name, list) in [
        (
            "linux.maskedPaths",
            linux.and_then(|l| l.masked_paths().as_ref()),
        ),
        (
            "linux.readonlyPaths",
            linux.and_then(|l| l.readonly_paths().as_ref()),
        ),
    ] {
        for (i, p) in list.into_iter().flatten().enumerate() {
            paths.push((format!("{name}[{i}]"), PathBuf::from(p)));
        }
    }
    for (i, d) in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        paths.push((format!("linux.devices[{i}].path"), d.path().clone()));
    }
    for (field, path) in paths {
        match resolve_in(&root, &path, Create::No) {
            Ok(_) => {}
            Err(RootfsError::Sys(crate::SysError {
                errno: Errno::ENOENT | Errno::ENOTDIR,
                ..
            })) => {}
            Err(e) => return Err((field, e)),
        }
    }
    Ok(())
}

const MAX_SYMLINKS: usize = 40;

/// Resolves `path` under the directory `root` (see `Rootfs::resolve`).
pub fn resolve_in(root: &OwnedFd, path: &Path, create: Create) -> Result<OwnedFd, RootfsError> {
    let dup = |fd: &OwnedFd| -> Result<OwnedFd, RootfsError> {
        let raw =
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(0)).map_err(sys("dup"))?;
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor we now own.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    };
    let mut stack = vec![dup(root)?];
    let mut pending: VecDeque<OsString> = components(path);
    let mut links = 0;
    let mut via = String::new();
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if stack.len() == 1 {
                return Err(RootfsError::Escape {
                    path: path.to_path_buf(),
                    via,
                });
            }
            stack.pop();
            continue;
        }
        let cur = stack.last().expect("root stays on the stack");
        let last = pending.is_empty();
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match openat(cur, name.as_os_str(), flags, Mode::empty()) {
            Ok(fd) => {
                let st = fstat(&fd).map_err(sys(format!("stat {}", path.display())))?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(sys(format!("resolve {}", path.display()))(Errno::ELOOP).into());
                    }
                    if is_magic_link(cur, &name) {
                        return Err(RootfsError::Invalid(format!(
                            "{}: {} is a /proc magic link, which jolt does not follow",
                            path.display(),
                            name.to_string_lossy()
                        )));
                    }
                    let target = readlinkat(cur, name.as_os_str())
                        .map_err(sys(format!("readlink in {}", path.display())))?;
                    via = format!(
                        " through symlink {} -> {}",
                        name.to_string_lossy(),
                        target.to_string_lossy()
                    );
                    if Path::new(&target).is_absolute() {
                        stack.truncate(1);
                    }
                    for c in components(Path::new(&target)).into_iter().rev() {
                        pending.push_front(c);
                    }
                    continue;
                }
                stack.push(fd);
            }
            Err(Errno::ENOENT) if create != Create::No => {
                if !last || create == Create::Dir {
                    match mkdirat(cur, name.as_os_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(sys(format!("mkdir in {}", path.display()))(e).into()),
                    }
                } else {
                    let flags = OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC;
                    match openat(
                        cur,
                        name.as_os_str(),
                        flags,
                        Mode::from_bits_truncate(0o644),
                    ) {
                        Ok(_) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(sys(format!("create {}", path.display()))(e).into()),
                    }
                }
                pending.push_front(name);
            }
            Err(e) => return Err(sys(format!("resolve {}", path.display()))(e).into()),
        }
    }
    Ok(stack.pop().expect("root stays on the stack"))
}

/// Whether the symlink `name` in `dir` is a procfs magic link (such as
/// /proc/self/fd/N or /proc/PID/cwd): its text is not where it leads, so
/// following it as a path would be wrong, and following it for real could
/// leave the container (openat2's RESOLVE_NO_MAGICLINKS). /proc/self and
/// /proc/thread-self are ordinary symlinks to a pid.
fn is_magic_link(dir: &OwnedFd, name: &OsStr) -> bool {
    let on_proc = nix::sys::statfs::fstatfs(dir)
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
    on_proc && name != "self" && name != "thread-self"
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Whether `fd` is the same file as `path`.
#[cfg(test)]
fn same_file(fd: &impl std::os::fd::AsRawFd, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let a = fs::metadata(fd_path(fd));
    let b = fs::metadata(path);
    matches!((a, b), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::Recorder;
    use std::os::unix::fs::symlink;

    fn open_dir(p: &Path) -> OwnedFd {
        nix::fcntl::open(p, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn resolve_stays_inside_and_creates_what_is_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("run")).unwrap();
        fs::create_dir_all(root.join("var")).unwrap();
        symlink("/run", root.join("var/run")).unwrap();
        symlink("../run", root.join("var/run2")).unwrap();
        let fd = open_dir(root);

        let got = resolve_in(&fd, Path::new("/var/run/x/y"), Create::Dir).unwrap();
        assert!(same_file(&got, &root.join("run/x/y")));
        let got = resolve_in(&fd, Path::new("/var/run2/f"), Create::File).unwrap();
        assert!(same_file(&got, &root.join("run/f")));
        assert!(root.join("run/f").is_file());
        let got = resolve_in(&fd, Path::new("/var/../run"), Create::No).unwrap();
        assert!(same_file(&got, &root.join("run")));
    }

    #[test]
    fn resolve_refuses_to_escape_through_dotdot_or_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        fs::create_dir_all(&root).unwrap();
        symlink("../../../../../../../tmp", root.join("escape")).unwrap();
        let fd = open_dir(&root);
        let err = resolve_in(&fd, Path::new("/escape/x"), Create::Dir).unwrap_err();
        assert!(
            err.to_string()
                .contains("escapes the rootfs through symlink escape"),
            "{err}"
        );
        let err = resolve_in(&fd, Path::new("/../etc"), Create::No).unwrap_err();
        assert!(matches!(err, RootfsError::Escape { .. }), "{err}");
        assert!(!tmp.path().join("x").exists());
    }

    #[test]
    fn proc_magic_links_are_refused_but_self_is_followed() {
        let proc_ = open_dir(Path::new("/proc"));
        let err = resolve_in(&proc_, Path::new("/self/fd/0"), Create::No).unwrap_err();
        assert!(err.to_string().contains("magic link"), "{err}");
        resolve_in(&proc_, Path::new("/self/task"), Create::No).unwrap();
    }

    #[test]
    fn masked_paths_use_tmpfs_for_dirs_and_dev_null_for_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("proc/acpi")).unwrap();
        fs::write(root.join("proc/kcore"), "").unwrap();
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {"maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/missing"]}
        }))
        .unwrap();
        let rec = Recorder::default();
        let r = Rootfs {
            sys: &rec,
            path: root.to_path_buf(),
            bundle: root.to_path_buf(),
            root: open_dir(root),
            shared: false,
        };
        r.masked_paths(&spec).unwrap();
        let calls = rec.calls.borrow();
        let acpi = root.join("proc/acpi");
        let kcore = root.join("proc/kcore");
        assert_eq!(
            *calls,
            vec![
                format!("mount tmpfs {} tmpfs MS_RDONLY -", acpi.display()),
                format!("mount /dev/null {} - MS_BIND -", kcore.display()),
            ]
        );
    }

    #[test]
    fn full_proc_and_sys_outside_the_rootfs_are_revealing_and_partial_ones_are_not() {
        let mounts = crate::mountinfo::parse(
            "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n\
             23 22 0:21 / /proc rw - proc proc rw\n\
             24 22 0:22 / /sys rw - sysfs sysfs rw\n\
             25 24 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
             26 22 0:24 / /run/a\\040dir/proc rw - proc proc rw\n\
             28 22 0:25 / /run/b/rootfs/proc rw - proc proc rw\n\
             29 22 0:21 /sys /run/sysbind rw - proc proc rw\n",
        );
        assert_eq!(
            revealing(&mounts, Path::new("/run/b/rootfs")),
            vec![
                PathBuf::from("/run/a dir/proc"),
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
            ]
        );
    }

    #[test]
    fn pivot_detaches_the_old_root_and_no_pivot_chroots() {
        let spec = Spec::default();
        let tmp = tempfile::tempdir().unwrap();
        for (no_pivot, expect) in [
            (
                false,
                vec![
                    "pivot_root . .",
                    "mount - . - MS_REC | MS_SLAVE -",
                    "umount .",
                    "chdir /",
                ],
            ),
            (
                true,
                vec![
                    "mount - /proc - MS_REC | MS_SLAVE -",
                    "umount /proc",
                    "mount . / - MS_MOVE -",
                    "chroot .",
                    "chdir /",
                ],
            ),
        ] {
            let rec = Recorder {
                mountinfo: format!(
                    "23 22 0:21 / /proc rw - proc proc rw\n\
                     30 22 0:30 / {}/proc rw - proc proc rw\n",
                    tmp.path().canonicalize().unwrap().display()
                ),
                ..Default::default()
            };
            let r = Rootfs {
                sys: &rec,
                path: tmp.path().to_path_buf(),
                bundle: tmp.path().to_path_buf(),
                root: open_dir(tmp.path()),
                shared: false,
            };
            r.enter(&spec, no_pivot).unwrap();
            let calls = rec.calls.borrow();
            assert_eq!(calls[0], format!("chdir {}", tmp.path().display()));
            assert_eq!(calls[1..], expect);
        }
    }
}
