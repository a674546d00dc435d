//! channel: the typed messages jolt and the container's init exchange.
//!
//! A SOCK_SEQPACKET socketpair keeps message boundaries, so each message is
//! one JSON datagram. Errors in the child travel back as data
//! (`Message::Error`) and become the message `jolt` prints, never a bare
//! exit code.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType};
use serde::{Deserialize, Serialize};

/// Largest message: the state JSON carries the annotations, which may be
/// large. The socket buffers are raised to hold it.
const MAX_MESSAGE: usize = 4 << 20;

/// Longest error text sent whole.
const MAX_ERROR: usize = 64 << 10;

#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// jolt → intermediate: the process is in its cgroup, go on.
    Go,
    /// intermediate → jolt: a new user namespace exists, write its maps.
    NeedMappings,
    /// jolt → intermediate: uid_map and gid_map are written.
    MappingsDone,
    /// intermediate → jolt: the container's init, in jolt's pid namespace.
    InitPid(i32),
    /// init → jolt: mounts are done; run prestart and createRuntime hooks.
    RunHooks,
    /// jolt → init: hooks ran; here is the state JSON for the init's hooks.
    HooksDone(String),
    /// init → jolt: set up, waiting on exec.fifo for `jolt start`.
    Ready,
    /// either way: what failed.
    Error(String),
    /// exec'd process → jolt: its execve failed; the text is what runc
    /// prints then (`exec /run.sh: no such file or directory`).
    ExecFailed(String),
    /// init or exec'd process → jolt: its seccomp filter's listener comes
    /// with this message (SCM_RIGHTS), for the agent at listenerPath.
    SeccompListener,
}

/// One end of the socketpair.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
    /// A descriptor that came with the last message received.
    received: std::cell::RefCell<Option<OwnedFd>>,
}

impl Channel {
    /// A connected pair, both ends close-on-exec.
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        for fd in [&a, &b] {
            use nix::sys::socket::{setsockopt, sockopt};
            // Root may exceed net.core.wmem_max; others get what it allows.
            if setsockopt(fd, sockopt::SndBufForce, &MAX_MESSAGE).is_err() {
                let _ = setsockopt(fd, sockopt::SndBuf, &MAX_MESSAGE);
            }
        }
        let end = |fd| Channel {
            fd,
            received: Default::default(),
        };
        Ok((end(a), end(b)))
    }

    /// Sends `msg`; an error text too long for one message is cut (what
    /// failed comes first in it), so that the error still arrives.
    pub fn send(&self, msg: &Message) -> io::Result<()> {
        let cut;
        let msg = match msg {
            Message::Error(text) if text.len() > MAX_ERROR => {
                let end = (0..=MAX_ERROR)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                cut = Message::Error(format!(
                    "{}... ({} more bytes)",
                    &text[..end],
                    text.len() - end
                ));
                &cut
            }
            other => other,
        };
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        nix::sys::socket::send(self.fd.as_raw_fd(), &data, socket::MsgFlags::MSG_NOSIGNAL)?;
        Ok(())
    }

    /// Sends `msg` with `fd` (SCM_RIGHTS).
    pub fn send_fd(&self, msg: &Message, fd: std::os::fd::BorrowedFd) -> io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        let fds = [fd.as_raw_fd()];
        socket::sendmsg::<()>(
            self.fd.as_raw_fd(),
            &[io::IoSlice::new(&data)],
            &[socket::ControlMessage::ScmRights(&fds)],
            socket::MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        Ok(())
    }

    /// The descriptor that came with the last message, if one did.
    pub fn take_fd(&self) -> Option<OwnedFd> {
        self.received.borrow_mut().take()
    }

    /// The next message; `None` when the other end closed.
    pub fn recv(&self) -> io::Result<Option<Message>> {
        use socket::MsgFlags;
        let fd = self.fd.as_raw_fd();
        let retry = |buf: &mut [u8], flags: MsgFlags| loop {
            match socket::recv(fd, buf, flags) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        };
        // Peek at the datagram's real length, so the buffer is as large as
        // the message, not as large as the largest message could be.
        let len = retry(&mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC)?;
        if len == 0 {
            return Ok(None);
        }
        if len > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("message of {len} bytes is longer than {MAX_MESSAGE}"),
            ));
        }
        let mut buf = vec![0u8; len];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [io::IoSliceMut::new(&mut buf)];
            match socket::recvmsg::<()>(fd, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(msg) => {
                    let fd = msg.cmsgs()?.find_map(|c| match c {
                        socket::ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                        _ => None,
                    });
                    break (msg.bytes, fd);
                }
            }
        };
        // SAFETY: the kernel installed this descriptor for us alone.
        *self.received.borrow_mut() =
            fd.map(|fd| unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) });
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_boundaries() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::InitPid(42)).unwrap();
        a.send(&Message::Error("mount /proc: EPERM".into()))
            .unwrap();
        assert!(matches!(b.recv().unwrap(), Some(Message::InitPid(42))));
        match b.recv().unwrap() {
            Some(Message::Error(e)) => assert_eq!(e, "mount /proc: EPERM"),
            other => panic!("{other:?}"),
        }
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }

    #[test]
    fn a_descriptor_comes_with_its_message() {
        let (a, b) = Channel::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        a.send_fd(&Message::SeccompListener, std::os::fd::AsFd::as_fd(&file))
            .unwrap();
        assert!(matches!(b.recv().unwrap(), Some(Message::SeccompListener)));
        let fd = b.take_fd().expect("the descriptor");
        let (x, y) = (
            nix::sys::stat::fstat(&fd).unwrap(),
            nix::sys::stat::fstat(&file).unwrap(),
        );
        assert_eq!((x.st_dev, x.st_ino), (y.st_dev, y.st_ino));
        assert!(b.take_fd().is_none());
    }

    #[test]
    fn an_error_too_long_for_one_message_still_arrives_cut() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::Error(format!("hostname {}", "h".repeat(8 << 20))))
            .unwrap();
        match b.recv().unwrap() {
            Some(Message::Error(e)) => {
                assert!(e.starts_with("hostname hhh"), "{}", &e[..20]);
                assert!(e.ends_with(&format!("... ({} more bytes)", (8 << 20) + 9 - MAX_ERROR)));
            }
            other => panic!("{other:?}"),
        }
    }
}
