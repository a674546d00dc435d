//! console: the other end of `jolt create --console-socket`, held the way
//! containerd's shim holds it: a listening AF_UNIX socket that receives the
//! pseudo-terminal master a container's init sends (SCM_RIGHTS), and the
//! terminal read through that master.
//!
//! Owns the socket (its file lives below the test's temp dir and goes with
//! it) and the master descriptor. It does not run jolt (see `runner`).

use std::io::{ErrorKind, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use crate::runner::Spawned;

/// A listening console socket.
pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ConsoleSocket {
    /// Listens on `path` (which must not exist yet).
    pub fn bind(path: PathBuf) -> ConsoleSocket {
        let listener = UnixListener::bind(&path)
            .unwrap_or_else(|e| panic!("binding console socket {}: {e}", path.display()));
        listener.set_nonblocking(true).unwrap();
        ConsoleSocket { listener, path }
    }

    /// The path `--console-socket` takes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the init started by `create` (a spawned `jolt create`) to
    /// connect and send its terminal's master; returns that terminal.
    /// Panics with create's output if create finishes without connecting,
    /// or after [`crate::timeout`].
    #[track_caller]
    pub fn receive(&self, create: &mut Spawned) -> Terminal {
        let start = Instant::now();
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept on {}: {e}", self.path.display()),
            }
            if let Some(out) = create.try_output() {
                panic!("create finished without connecting to the console socket:\n{out}");
            }
            if start.elapsed() > crate::timeout() {
                panic!(
                    "timed out after {:?} waiting for the init to connect to {}",
                    crate::timeout(),
                    self.path.display()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        Terminal {
            master: receive_fd(&stream),
            output: Vec::new(),
        }
    }
}

/// Receives one descriptor sent over `stream`, close-on-exec so that the
/// jolt processes other tests fork do not hold the terminal open.
#[track_caller]
fn receive_fd(stream: &UnixStream) -> OwnedFd {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(crate::timeout())).unwrap();
    let mut name = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap_or_else(|e| panic!("receiving the terminal on the console socket: {e}"));
    let mut fds: Vec<OwnedFd> = Vec::new();
    for c in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel just installed these descriptors for us.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    assert_eq!(
        fds.len(),
        1,
        "the init sends exactly one descriptor (the pty master)"
    );
    fds.pop().unwrap()
}

/// The container's terminal, as read through its master.
pub struct Terminal {
    master: OwnedFd,
    output: Vec<u8>,
}

impl Terminal {
    /// Reads until the terminal has shown `needle`; returns all it showed
    /// so far. Panics, showing the output, if the terminal closes first or
    /// after [`crate::timeout`].
    #[track_caller]
    pub fn read_until(&mut self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let shown = String::from_utf8_lossy(&self.output).into_owned();
            if shown.contains(needle) {
                return shown;
            }
            if start.elapsed() > crate::timeout() {
                panic!(
                    "timed out after {:?} waiting for {needle:?} on the terminal:\n{shown}",
                    crate::timeout()
                );
            }
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u8)) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => panic!("poll on the terminal: {e}"),
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(n) if n > 0 => self.output.extend_from_slice(&buf[..n]),
                // EIO: every slave descriptor is closed.
                Ok(_) | Err(Errno::EIO) => {
                    panic!("the terminal closed before showing {needle:?}:\n{shown}")
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => panic!("reading the terminal: {e}"),
            }
        }
    }
}
