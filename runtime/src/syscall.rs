//! syscall: the seam between rootfs setup and the kernel.
//!
//! `rootfs` makes its mount-table changes through the `Syscall` trait, so a
//! test can record them without root (`Recorder`). Path resolution inside
//! the rootfs uses real files, which work unprivileged in a temp dir.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    /// mount_setattr(2) on the mount at `target` and every mount below it:
    /// MOUNT_ATTR_* bits in `set` are set, those in `clear` cleared.
    fn mount_setattr(&self, target: BorrowedFd, set: u64, clear: u64) -> nix::Result<()>;
    /// move_mount(2) of the mount `from` (a detached tree) onto `to`.
    fn move_mount(&self, from: BorrowedFd, to: BorrowedFd) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    /// The text of /proc/self/mountinfo.
    fn mountinfo(&self) -> std::io::Result<String>;
    fn chroot(&self, path: &Path) -> nix::Result<()>;
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    fn mknod(
        &self,
        dir: BorrowedFd,
        name: &str,
        kind: SFlag,
        perm: Mode,
        dev: u64,
    ) -> nix::Result<()>;
}

/// The real kernel.
pub struct Linux;

impl Syscall for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn mount_setattr(&self, target: BorrowedFd, set: u64, clear: u64) -> nix::Result<()> {
        let attr = libc::mount_attr {
            attr_set: set,
            attr_clr: clear,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: the path is a NUL-terminated empty string and `attr` a
        // live mount_attr of the size passed; the kernel reads both only.
        let res = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                target.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
                &attr as *const libc::mount_attr,
                std::mem::size_of::<libc::mount_attr>(),
            )
        };
        nix::errno::Errno::result(res).map(drop)
    }

    fn move_mount(&self, from: BorrowedFd, to: BorrowedFd) -> nix::Result<()> {
        // SAFETY: empty NUL-terminated paths; both descriptors are live.
        let res = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                from.as_raw_fd(),
                c"".as_ptr(),
                to.as_raw_fd(),
                c"".as_ptr(),
                libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
            )
        };
        nix::errno::Errno::result(res).map(drop)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn mountinfo(&self) -> std::io::Result<String> {
        std::fs::read_to_string("/proc/self/mountinfo")
    }

    fn chroot(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chroot(path)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn mknod(
        &self,
        dir: BorrowedFd,
        name: &str,
        kind: SFlag,
        perm: Mode,
        dev: u64,
    ) -> nix::Result<()> {
        nix::sys::stat::mknodat(dir, name, kind, perm, dev)
    }
}

/// Paths of the form /proc/self/fd/N name the file the fd was opened on.
pub fn fd_path(fd: &impl AsRawFd) -> std::path::PathBuf {
    format!("/proc/self/fd/{}", fd.as_raw_fd()).into()
}

#[cfg(test)]
pub use recorder::Recorder;

#[cfg(test)]
mod recorder {
    use super::*;
    use std::cell::RefCell;

    /// Records calls as readable lines; /proc/self/fd/N targets are shown as
    /// the path the fd was opened on.
    #[derive(Default)]
    pub struct Recorder {
        pub calls: RefCell<Vec<String>>,
        /// What `mountinfo` returns.
        pub mountinfo: String,
    }

    fn show(p: &Path) -> String {
        if p.starts_with("/proc/self/fd") {
            std::fs::read_link(p)
                .map_or_else(|_| p.display().to_string(), |t| t.display().to_string())
        } else {
            p.display().to_string()
        }
    }

    fn flag_names(flags: MsFlags) -> String {
        let names: Vec<_> = flags.iter_names().map(|(n, _)| n).collect();
        names.join(" | ")
    }

    impl Syscall for Recorder {
        fn mount(
            &self,
            source: Option<&Path>,
            target: &Path,
            fstype: Option<&str>,
            flags: MsFlags,
            data: Option<&str>,
        ) -> nix::Result<()> {
            self.calls.borrow_mut().push(format!(
                "mount {} {} {} {} {}",
                source.map_or("-".into(), show),
                show(target),
                fstype.unwrap_or("-"),
                flag_names(flags),
                data.unwrap_or("-")
            ));
            Ok(())
        }
        fn umount(&self, target: &Path, _: MntFlags) -> nix::Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("umount {}", show(target)));
            Ok(())
        }
        fn mount_setattr(&self, target: BorrowedFd, set: u64, clear: u64) -> nix::Result<()> {
            self.calls.borrow_mut().push(format!(
                "mount_setattr {} set {set:#x} clear {clear:#x}",
                show(&fd_path(&target))
            ));
            Ok(())
        }
        fn move_mount(&self, from: BorrowedFd, to: BorrowedFd) -> nix::Result<()> {
            self.calls.borrow_mut().push(format!(
                "move_mount {} {}",
                show(&fd_path(&from)),
                show(&fd_path(&to))
            ));
            Ok(())
        }
        fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
            self.calls.borrow_mut().push(format!(
                "pivot_root {} {}",
                show(new_root),
                show(put_old)
            ));
            Ok(())
        }
        fn mountinfo(&self) -> std::io::Result<String> {
            Ok(self.mountinfo.clone())
        }
        fn chroot(&self, path: &Path) -> nix::Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("chroot {}", show(path)));
            Ok(())
        }
        fn chdir(&self, path: &Path) -> nix::Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("chdir {}", show(path)));
            Ok(())
        }
        fn mknod(
            &self,
            dir: BorrowedFd,
            name: &str,
            _: SFlag,
            _: Mode,
            dev: u64,
        ) -> nix::Result<()> {
            let dir = show(&fd_path(&dir));
            self.calls.borrow_mut().push(format!(
                "mknod {dir}/{name} {}:{}",
                libc::major(dev),
                libc::minor(dev)
            ));
            Ok(())
        }
    }
}
