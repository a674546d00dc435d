//! http: the least HTTP a test needs of a server it started (Prometheus,
//! a registry): a free port of 127.0.0.1 to give it, and a GET over
//! HTTP/1.0 (never chunked; the answer ends when the connection does),
//! from the test's network namespace or another.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Child;

use crate::quick;

/// Starts a server with `start` on a free port of 127.0.0.1 and
/// `ready` to wait for it, and returns it with the address. A port free
/// when chosen may be taken before the server binds it: when `ready`
/// says "address already in use", the child is killed and another port
/// tried (three in all).
pub fn start_on_free_port(
    mut start: impl FnMut(SocketAddr) -> Result<Child, String>,
    mut ready: impl FnMut(&mut Child, SocketAddr) -> Result<(), String>,
) -> Result<(Child, SocketAddr), String> {
    let mut last = String::new();
    for _ in 0..3 {
        let listen = free_port()?;
        let mut child = start(listen)?;
        match ready(&mut child, listen) {
            Ok(()) => return Ok((child, listen)),
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                if !why.contains("address already in use") {
                    return Err(why);
                }
                last = why;
            }
        }
    }
    Err(last)
}

/// A port of 127.0.0.1 that nothing listens on now.
pub fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("a free port on 127.0.0.1: {e}"))
}

/// GET `path` from `addr` over HTTP/1.0, from the network namespace
/// `netns` (None: the test's): the status code and the body.
pub fn http_get(
    netns: Option<&Path>,
    addr: SocketAddr,
    path: &str,
) -> Result<(u16, String), String> {
    let failed = |e: std::io::Error| format!("GET http://{addr}{path}: {e}");
    let mut stream = connect(netns, addr).map_err(failed)?;
    stream.set_read_timeout(Some(quick())).map_err(failed)?;
    stream.set_write_timeout(Some(quick())).map_err(failed)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(failed)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(failed)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET http://{addr}{path}: no HTTP answer: {response:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET http://{addr}{path}: no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// A connection to `addr` made in the network namespace `netns`: the
/// socket is made on a thread that entered it, and stays there.
pub fn connect(netns: Option<&Path>, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let Some(ns) = netns else {
        return TcpStream::connect_timeout(&addr, quick());
    };
    let file = File::open(ns)?;
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
            TcpStream::connect_timeout(&addr, quick())
        })
        .join()
        .expect("the connecting thread does not panic")
    })
}
