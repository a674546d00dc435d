//! connections: how joltd's API holds its clients' connections, so that a
//! leaking, slow or hostile client can neither exhaust joltd's file
//! descriptors nor keep other clients out.
//!
//! Owns the limits ([`Limits`]: how many connections at once, how long a
//! request head and a request body may take to arrive), serving one
//! HTTP/1 connection (hyper, with its header-read timer), making room for
//! a new connection past the bound by asking the oldest ones to close
//! once idle ([`Slots`]), and closing a connection gracefully after an
//! answer that left the request body unread (an answer with `Connection:
//! close`): the write side is shut and what the client still sends is
//! read and dropped for a while ([`LINGER`]), so that the client reads
//! the answer instead of a reset. The routes and the answers themselves
//! are the api module's.
//!
//! Past the bound joltd accepts the new connection (one descriptor over
//! the bound at most) and waits for a slot, asking the oldest connections,
//! one every [`MAKE_ROOM_WAIT`], to close once idle: an idle connection
//! closes at once, a busy one after its answer (a streamed answer runs to
//! its end). Meanwhile further clients wait in the listen backlog. So a
//! client that leaks idle connections loses its oldest ones, and others
//! still get an answer; closing an idle keep-alive connection is always
//! allowed in HTTP/1.1.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::CONNECTION;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::{Reply, MAX_BODY};

/// How many connections joltd serves at once unless told
/// (`--max-connections`); never more than half its open-file limit.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long a connection may take to send a request head, counted from
/// when it opens or from the end of the previous answer, unless told
/// (`--header-timeout`). It is the idle timeout too: hyper runs this
/// timer whenever the connection waits for a request, so a connection
/// kept open without one is closed after this long.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request body (at most [`MAX_BODY`]) may take to arrive once
/// its head has, unless told (`--body-timeout`).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long joltd keeps reading and dropping what a client still sends
/// after an answer that left its request body unread, before it closes.
pub const LINGER: Duration = Duration::from_secs(5);
/// How long joltd waits for an idle connection it asked to close before
/// it asks the next oldest, when all slots are taken.
pub const MAKE_ROOM_WAIT: Duration = Duration::from_millis(50);

/// The API's limits on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once (see [`bound`]).
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: MAX_CONNECTIONS,
            header_timeout: HEADER_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
        }
    }
}

/// The connections served at once by a process whose open-file limit is
/// `nofile`: `wanted`, but at most half the limit, so that the other half
/// stays for what joltd itself opens (pidfds, logs, netlink sockets, its
/// children's pipes); at least 1.
pub fn bound(wanted: usize, nofile: u64) -> usize {
    let half = usize::try_from(nofile / 2).unwrap_or(usize::MAX);
    wanted.min(half).max(1)
}

/// The slots for connections, and the connections that hold them, oldest
/// first, until they are asked to make room.
pub struct Slots {
    permits: Arc<Semaphore>,
    open: Mutex<BTreeMap<u64, Arc<Notify>>>,
    next: AtomicU64,
}

impl Slots {
    pub fn new(bound: usize) -> Slots {
        Slots {
            permits: Arc::new(Semaphore::new(bound)),
            open: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
        }
    }

    /// A slot for a new connection: a free one, or one an idle connection
    /// gave up when asked (the oldest asked first, the next after
    /// [`MAKE_ROOM_WAIT`]); when every connection was asked, the first
    /// slot freed.
    pub async fn take(&self) -> OwnedSemaphorePermit {
        loop {
            if let Ok(permit) = self.permits.clone().try_acquire_owned() {
                return permit;
            }
            let wait = self.permits.clone().acquire_owned();
            if !self.ask_oldest() {
                return wait.await.expect("the semaphore is never closed");
            }
            if let Ok(permit) = tokio::time::timeout(MAKE_ROOM_WAIT, wait).await {
                return permit.expect("the semaphore is never closed");
            }
        }
    }

    /// Asks the oldest connection not asked yet to close once idle; false
    /// when there is none.
    fn ask_oldest(&self) -> bool {
        let oldest = self.open().pop_first();
        match oldest {
            Some((_, asked)) => {
                asked.notify_one();
                true
            }
            None => false,
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Notify>>> {
        self.open.lock().expect("no panics while held")
    }

    /// Registers a connection: its key, and what tells it to make room.
    fn register(&self) -> (u64, Arc<Notify>) {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let asked = Arc::new(Notify::new());
        self.open().insert(key, asked.clone());
        (key, asked)
    }

    fn leave(&self, key: u64) {
        self.open().remove(&key);
    }
}

/// Whether `response` ends its connection (`Connection: close`).
fn closes(response: &Response<Reply>) -> bool {
    response
        .headers()
        .get(CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
}

/// Serves HTTP/1 on `stream` with `handle` until the client leaves, the
/// connection times out, or it is asked to make room and is idle; then
/// gives its slot back.
pub async fn serve<S, H, F>(
    stream: S,
    slots: Arc<Slots>,
    slot: OwnedSemaphorePermit,
    limits: Limits,
    handle: H,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Send + Sync + Unpin + 'static,
    F: Future<Output = Response<Reply>> + Send + 'static,
{
    let (key, asked) = slots.register();
    let linger = Arc::new(AtomicBool::new(false));
    let service = {
        let linger = linger.clone();
        hyper::service::service_fn(move |req| {
            let answer = handle(req);
            let linger = linger.clone();
            Box::pin(async move {
                let mut response = answer.await;
                response.headers_mut().insert(
                    hyper::header::SERVER,
                    hyper::header::HeaderValue::from_static(crate::client::SERVER),
                );
                if closes(&response) {
                    linger.store(true, Ordering::Relaxed);
                }
                Ok::<_, Infallible>(response)
            })
        })
    };
    let mut conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BODY.max(8192) * 2)
        .serve_connection(TokioIo::new(stream), service);
    let mut asked_to_close = pin!(asked.notified());
    let mut closing = false;
    let ended = poll_fn(|cx| {
        if !closing && asked_to_close.as_mut().poll(cx).is_ready() {
            closing = true;
            Pin::new(&mut conn).graceful_shutdown();
        }
        conn.poll_without_shutdown(cx)
    })
    .await;
    slots.leave(key);
    match ended {
        Ok(()) if linger.load(Ordering::Relaxed) => {
            linger_close(conn.into_parts().io.into_inner()).await;
        }
        Ok(()) => {}
        Err(e) => tracing::debug!("connection: {e}"),
    }
    drop(slot);
}

/// Shuts the write side of `stream` (the client sees the end of the
/// answer) and drops what the client still sends, until it closes or
/// [`LINGER`] has passed, so that the kernel does not reset the
/// connection over unread data before the client has read the answer.
async fn linger_close<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let drain = async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_leaves_half_the_open_file_limit_to_joltd() {
        assert_eq!(bound(MAX_CONNECTIONS, 65536), MAX_CONNECTIONS);
        assert_eq!(bound(MAX_CONNECTIONS, 1024), 512);
        assert_eq!(bound(100, 1024), 100);
        assert_eq!(bound(MAX_CONNECTIONS, 1), 1);
        assert_eq!(bound(MAX_CONNECTIONS, u64::MAX), MAX_CONNECTIONS);
    }

    #[tokio::test]
    async fn a_new_connection_past_the_bound_asks_the_oldest_to_make_room() {
        let slots = Arc::new(Slots::new(2));
        let first = slots.take().await;
        let (k1, asked1) = slots.register();
        let _second = slots.take().await;
        let (_k2, asked2) = slots.register();
        // The oldest, asked, gives its slot back; the newer one is left.
        let closer = {
            let slots = slots.clone();
            tokio::spawn(async move {
                asked1.notified().await;
                slots.leave(k1);
                drop(first);
            })
        };
        let third = tokio::time::timeout(Duration::from_secs(5), slots.take())
            .await
            .expect("a slot");
        closer.await.unwrap();
        assert_eq!(slots.open().len(), 1, "only the newer one stays registered");
        assert!(
            tokio::time::timeout(Duration::from_millis(10), asked2.notified())
                .await
                .is_err(),
            "the newer connection was not asked"
        );
        drop(third);
    }
}
