//! socket: the netfilter queue protocol (nfnetlink, subsystem queue),
//! just what the worker needs: bind a queue with metadata-only copies,
//! fail-open and a length, receive packet ids, send verdicts.
//!
//! Our own rather than the nfq crate's: its socket is opened without
//! SOCK_CLOEXEC, so every process the agent starts meanwhile (monitors,
//! `tc`, `nft`) inherits it and keeps the queue bound after the worker is
//! gone, and bypass never starts: the traffic would be stranded. Here
//! the socket is close-on-exec from its creation, non-blocking, and
//! pollable, and packets are never copied to userspace (only their ids).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
const NFQA_CFG_MASK: u16 = 4;
const NFQA_CFG_FLAGS: u16 = 5;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_META: u8 = 1;
const NFQA_CFG_F_FAIL_OPEN: u32 = 1;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;

/// What the worker says about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Drop = 0,
    Accept = 1,
}

/// A netlink socket bound to one netfilter queue, in the network
/// namespace of the thread that opened it.
pub struct QueueSocket {
    fd: OwnedFd,
    queue: u16,
    seq: u32,
    buf: Vec<u8>,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// One nfnetlink message of the queue subsystem, built up attribute by
/// attribute.
struct Message(Vec<u8>);

impl Message {
    fn new(kind: u16, flags: u16, seq: u32, queue: u16) -> Message {
        let mut m = Vec::with_capacity(64);
        m.extend_from_slice(&0u32.to_ne_bytes()); // length, set by done()
        m.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | kind).to_ne_bytes());
        m.extend_from_slice(&(flags | libc::NLM_F_REQUEST as u16).to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        m.push(libc::AF_UNSPEC as u8); // nfgenmsg: family
        m.push(0); // version
        m.extend_from_slice(&queue.to_be_bytes()); // res_id
        Message(m)
    }

    fn attr(mut self, kind: u16, payload: &[u8]) -> Message {
        let len = 4 + payload.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.0.resize(align(self.0.len()), 0);
        self
    }

    fn done(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

impl QueueSocket {
    /// Opens a netfilter netlink socket (close-on-exec, non-blocking) and
    /// binds `queue` on it: metadata only, fail-open, up to `max_len`
    /// packets waiting.
    pub fn bind(queue: u16, max_len: u32) -> io::Result<QueueSocket> {
        // SAFETY: socket(2) returns a new descriptor or -1.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                NETLINK_NETFILTER,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a descriptor we own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: a zeroed sockaddr_nl is a valid "any port" address.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: bind with a sockaddr_nl of its own size.
        let bound = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if bound < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut s = QueueSocket {
            fd,
            queue,
            seq: 0,
            buf: vec![0; 65536],
        };
        let mut params = 0u32.to_be_bytes().to_vec();
        params.push(NFQNL_COPY_META);
        let cmd = [NFQNL_CFG_CMD_BIND, 0, 0, 0];
        s.request(|seq| {
            Message::new(NFQNL_MSG_CONFIG, libc::NLM_F_ACK as u16, seq, queue)
                .attr(NFQA_CFG_CMD, &cmd)
                .done()
        })?;
        s.request(|seq| {
            Message::new(NFQNL_MSG_CONFIG, libc::NLM_F_ACK as u16, seq, queue)
                .attr(NFQA_CFG_PARAMS, &params)
                .attr(NFQA_CFG_QUEUE_MAXLEN, &max_len.to_be_bytes())
                .attr(NFQA_CFG_FLAGS, &NFQA_CFG_F_FAIL_OPEN.to_be_bytes())
                .attr(NFQA_CFG_MASK, &NFQA_CFG_F_FAIL_OPEN.to_be_bytes())
                .done()
        })?;
        Ok(s)
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: sending a live buffer on our socket.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        match n {
            n if n as usize == msg.len() => Ok(()),
            n if n < 0 => Err(io::Error::last_os_error()),
            _ => Err(io::Error::other("a short netlink send")),
        }
    }

    /// Sends a request and waits (polling) for its acknowledgement.
    fn request(&mut self, build: impl FnOnce(u32) -> Vec<u8>) -> io::Result<()> {
        self.seq += 1;
        let seq = self.seq;
        self.send(&build(seq))?;
        for _ in 0..100 {
            self.wait(Duration::from_millis(100), None)?;
            let n = match self.recv_raw() {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            };
            for (kind, msg_seq, body) in messages(&self.buf[..n]) {
                if kind == libc::NLMSG_ERROR as u16 && msg_seq == seq {
                    let errno = body
                        .get(..4)
                        .map_or(0, |b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
                    return match errno {
                        0 => Ok(()),
                        e => Err(io::Error::from_raw_os_error(-e)),
                    };
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no answer from nfnetlink_queue",
        ))
    }

    fn recv_raw(&mut self) -> io::Result<usize> {
        // SAFETY: receiving into our own buffer, within its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                0,
            )
        };
        match n {
            n if n < 0 => Err(io::Error::last_os_error()),
            n => Ok(n as usize),
        }
    }

    /// Waits up to `timeout` for something to read, here or on `wake`
    /// (ppoll: to the nanosecond, where poll would round to
    /// milliseconds).
    pub fn wait(&self, timeout: Duration, wake: Option<i32>) -> io::Result<()> {
        let pfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [pfd(self.fd.as_raw_fd()), pfd(wake.unwrap_or(-1))];
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: ppoll on pollfds we own (a negative fd is ignored), no
        // signal mask change.
        match unsafe { libc::ppoll(fds.as_mut_ptr(), 2, &ts, std::ptr::null()) } {
            n if n < 0 => {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => Ok(()),
                    _ => Err(e),
                }
            }
            _ => Ok(()),
        }
    }

    /// The ids of the packets queued now (none when nothing waits).
    pub fn packets(&mut self) -> io::Result<Vec<u32>> {
        let mut ids = Vec::new();
        loop {
            let n = match self.recv_raw() {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ids),
                // The kernel dropped messages for us (fail-open passed
                // their packets); go on with what comes next.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
                Err(e) => return Err(e),
            };
            for (kind, _, body) in messages(&self.buf[..n]) {
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET {
                    if let Some(id) = packet_id(body) {
                        ids.push(id);
                    }
                }
            }
        }
    }

    /// Tells the kernel what becomes of packet `id`.
    pub fn verdict(&mut self, id: u32, verdict: Verdict) -> io::Result<()> {
        let mut hdr = (verdict as u32).to_be_bytes().to_vec();
        hdr.extend_from_slice(&id.to_be_bytes());
        let msg = Message::new(NFQNL_MSG_VERDICT, 0, 0, self.queue)
            .attr(NFQA_VERDICT_HDR, &hdr)
            .done();
        self.send(&msg)
    }
}

/// The (type, sequence, body after the nlmsghdr) of each netlink message
/// in `buf`.
fn messages(mut buf: &[u8]) -> Vec<(u16, u32, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            break;
        }
        let kind = u16::from_ne_bytes(buf[4..6].try_into().expect("2 bytes"));
        let seq = u32::from_ne_bytes(buf[8..12].try_into().expect("4 bytes"));
        out.push((kind, seq, &buf[NLMSG_HDRLEN..len]));
        buf = &buf[align(len).min(buf.len())..];
    }
    out
}

/// The packet id in a packet message's body (nfgenmsg, then attributes).
fn packet_id(body: &[u8]) -> Option<u32> {
    let mut attrs = body.get(NFGENMSG_LEN..)?;
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes(attrs[0..2].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(attrs[2..4].try_into().ok()?) & 0x3fff;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == NFQA_PACKET_HDR && len >= 8 {
            return Some(u32::from_be_bytes(attrs[4..8].try_into().ok()?));
        }
        attrs = &attrs[align(len).min(attrs.len())..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_message_is_laid_out_as_the_kernel_reads_it() {
        let msg = Message::new(NFQNL_MSG_VERDICT, 0, 7, 0x4a4c)
            .attr(NFQA_VERDICT_HDR, &[0, 0, 0, 1, 0, 0, 0, 42])
            .done();
        assert_eq!(msg.len(), 16 + 4 + 12);
        assert_eq!(u32::from_ne_bytes(msg[0..4].try_into().unwrap()), 32);
        assert_eq!(u16::from_ne_bytes(msg[4..6].try_into().unwrap()), 0x0301);
        assert_eq!(&msg[18..20], &[0x4a, 0x4c], "the queue, big-endian");
        assert_eq!(u16::from_ne_bytes(msg[20..22].try_into().unwrap()), 12);
    }

    #[test]
    fn packet_ids_are_read_from_packet_messages() {
        let mut body = vec![2, 0, 0x4a, 0x4c];
        body.extend_from_slice(&12u16.to_ne_bytes());
        body.extend_from_slice(&NFQA_PACKET_HDR.to_ne_bytes());
        body.extend_from_slice(&[0, 0, 0, 9, 0x08, 0x00, 3, 0]);
        assert_eq!(packet_id(&body), Some(9));
        assert_eq!(packet_id(&body[..4]), None);
        let mut nl = Vec::new();
        nl.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        nl.extend_from_slice(&0x0300u16.to_ne_bytes());
        nl.extend_from_slice(&[0; 10]);
        nl.extend_from_slice(&body);
        let parsed = messages(&nl);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].0, 0x0300);
    }
}
