//! api: joltd's HTTP/JSON interface on its Unix socket.
//!
//! Owns the socket (mode 0600, a stale one replaced, a live one refused),
//! the peer check (SO_PEERCRED: root, or joltd's own user), the routes,
//! request limits and parsing (errors name the field), and how daemon
//! errors become status codes. Every error body is `{"error": MESSAGE}`.
//!
//! | method | path | body / query | answer |
//! |---|---|---|---|
//! | POST | /v1/containers | a `RunRequest` | 201, the record |
//! | GET | /v1/containers | `all=true` | the records |
//! | GET | /v1/containers/NAME | | the record |
//! | POST | /v1/containers/NAME/stop | `timeout=SECONDS` | the record |
//! | DELETE | /v1/containers/NAME | `force=true` | 204 |
//! | GET | /v1/containers/NAME/logs | `follow=true` | the log, streamed |
//! | POST | /v1/experiments | an `ApplyRequest` | 201, the status; 200, the plan (dry run) |
//! | GET | /v1/experiments | | the statuses |
//! | GET | /v1/experiments/NAME | | the status |
//! | GET | /v1/experiments/NAME/events | `follow=true` | JSON lines, streamed |
//! | POST | /v1/experiments/NAME/abort | | the status, once reverted |
//! | DELETE | /v1/experiments/NAME | | 204 |
//! | POST | /v1/system/prune | | what was removed and reported |
//! | GET | /metrics | | Prometheus text |

use std::convert::Infallible;
use std::io::SeekFrom;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::container::RunRequest;
use crate::daemon::{Daemon, DaemonError};
use crate::experiments::Experiments;

mod experiments;

/// The largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// How long `stop` waits after SIGTERM unless told.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a shutdown waits for requests under way.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(15);
/// The longest stop timeout a request may ask for.
const MAX_STOP_TIMEOUT: u64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("socket {}: {cause}", path.display())]
    Socket {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("socket {}: another joltd is listening on it", .0.display())]
    InUse(PathBuf),
}

/// Refuses a socket another joltd listens on.
pub fn ensure_free(path: &Path) -> Result<(), ApiError> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(ApiError::InUse(path.to_path_buf()));
    }
    Ok(())
}

/// Binds the socket at `path`: its directory made (0700) when missing, a
/// stale socket file replaced, mode 0600.
pub fn bind(path: &Path) -> Result<UnixListener, ApiError> {
    let err = |cause| ApiError::Socket {
        path: path.to_path_buf(),
        cause,
    };
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    if path.exists() {
        ensure_free(path)?;
        std::fs::remove_file(path).map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

/// What the API serves.
#[derive(Clone)]
pub struct Agent {
    pub daemon: Arc<Daemon>,
    pub experiments: Arc<Experiments>,
}

/// Serves connections until `shutdown` resolves, then waits (up to
/// [`SHUTDOWN_WAIT`]) for the requests that change containers to finish,
/// and cuts running experiments short (their faults reverted).
pub async fn serve(
    listener: UnixListener,
    agent: Agent,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => {
                drop(listener);
                agent.daemon.quiesce(SHUTDOWN_WAIT).await;
                agent.experiments.shutdown().await;
                return;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, agent.clone()));
                }
                Err(e) => {
                    tracing::error!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Whether a peer with `uid` may use joltd: root, or joltd's own user.
pub fn allowed(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

async fn connection(stream: UnixStream, agent: Agent) {
    let uid = stream.peer_cred().map(|c| c.uid()).ok();
    let service = hyper::service::service_fn(move |req| {
        let agent = agent.clone();
        async move {
            Ok::<_, Infallible>(match uid {
                Some(uid) if allowed(uid) => handle(req, agent).await,
                Some(uid) => {
                    tracing::warn!(uid, "refused a peer");
                    error(
                        StatusCode::FORBIDDEN,
                        format!("permission denied: uid {uid} may not use joltd (root only)"),
                    )
                }
                None => error(StatusCode::FORBIDDEN, "permission denied: unknown peer"),
            })
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_BODY.max(8192) * 2)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = conn.await {
        tracing::debug!("connection: {e}");
    }
}

/// A response body: all at once, or streamed from a channel.
pub enum Reply {
    Full(Full<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl Body for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Reply::Full(f) => Pin::new(f).poll_frame(cx),
            Reply::Stream(rx) => rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b)))),
        }
    }
}

/// The request's body, up to [`MAX_BODY`].
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Reply>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body: larger than {MAX_BODY} bytes, or cut short"),
        )),
    }
}

fn reply(status: StatusCode, body: impl Serialize) -> Response<Reply> {
    let text = serde_json::to_vec(&body).expect("replies serialize");
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Reply::Full(Full::new(Bytes::from(text))))
        .expect("a valid response")
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response<Reply> {
    reply(status, json!({ "error": msg.into() }))
}

fn daemon_error(e: DaemonError) -> Response<Reply> {
    let status = match &e {
        DaemonError::NotFound(_) => StatusCode::NOT_FOUND,
        DaemonError::Conflict { .. } => StatusCode::CONFLICT,
        DaemonError::Invalid(_) => StatusCode::BAD_REQUEST,
        DaemonError::Failed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DaemonError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

/// The query string as (key, value) pairs, only `known` keys accepted.
fn query<'a>(
    req: &'a Request<Incoming>,
    known: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut out = Vec::new();
    for pair in req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !known.contains(&k) {
            return Err(format!("query: unknown parameter {k:?}"));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn flag(pairs: &[(&str, &str)], key: &str) -> Result<bool, String> {
    match pairs.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(v) => Err(format!("query: {key}: {v:?} is not true or false")),
    }
}

/// Parses a JSON request body; errors name the field.
pub fn parse_run(body: &[u8]) -> Result<RunRequest, String> {
    parse(body)
}

/// Parses a JSON request body into `T`; errors name the field.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." => format!("request body: {}", e.inner()),
            _ => format!("request body: {path}: {}", e.inner()),
        }
    })
}

async fn handle(req: Request<Incoming>, agent: Agent) -> Response<Reply> {
    let path = req.uri().path().to_string();
    if path == "/metrics" || path.starts_with("/v1/experiments") {
        return experiments::handle(req, agent.experiments).await;
    }
    let daemon = agent.daemon;
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    tracing::debug!(%method, %path, "request");
    match (method, segments.as_slice()) {
        (Method::POST, ["v1", "containers"]) => {
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(response) => return response,
            };
            let run = match parse_run(&body) {
                Ok(r) => r,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            // Spawned: a client that hangs up does not cut a run short.
            match tokio::spawn(async move { daemon.run(run).await })
                .await
                .expect("run does not panic")
            {
                Ok(r) => reply(StatusCode::CREATED, r),
                Err(e) => daemon_error(e),
            }
        }
        (Method::GET, ["v1", "containers"]) => {
            let all = match query(&req, &["all"]).and_then(|q| flag(&q, "all")) {
                Ok(a) => a,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            reply(StatusCode::OK, daemon.list(all).await)
        }
        (Method::GET, ["v1", "containers", name]) => match daemon.inspect(name).await {
            Ok(r) => reply(StatusCode::OK, r),
            Err(e) => daemon_error(e),
        },
        (Method::POST, ["v1", "containers", name, "stop"]) => {
            let timeout = match query(&req, &["timeout"]).and_then(|q| stop_timeout(&q)) {
                Ok(t) => t,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            let name = name.to_string();
            let stop = tokio::spawn(async move { daemon.stop(&name, timeout).await });
            match stop.await.expect("stop does not panic") {
                Ok(r) => reply(StatusCode::OK, r),
                Err(e) => daemon_error(e),
            }
        }
        (Method::DELETE, ["v1", "containers", name]) => {
            let force = match query(&req, &["force"]).and_then(|q| flag(&q, "force")) {
                Ok(f) => f,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            let name = name.to_string();
            let remove = tokio::spawn(async move { daemon.remove(&name, force).await });
            match remove.await.expect("remove does not panic") {
                Ok(()) => Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(Reply::Full(Full::new(Bytes::new())))
                    .expect("a valid response"),
                Err(e) => daemon_error(e),
            }
        }
        (Method::GET, ["v1", "containers", name, "logs"]) => {
            let follow = match query(&req, &["follow"]).and_then(|q| flag(&q, "follow")) {
                Ok(f) => f,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            match daemon.logs(name) {
                Ok(logs) => {
                    let (tx, rx) = mpsc::channel(16);
                    tokio::spawn(stream_log(logs, follow, tx));
                    Response::builder()
                        .header("content-type", "text/plain; charset=utf-8")
                        .body(Reply::Stream(rx))
                        .expect("a valid response")
                }
                Err(e) => daemon_error(e),
            }
        }
        (Method::POST, ["v1", "system", "prune"]) => {
            // Spawned: a client that hangs up does not cut a prune short.
            let prune = tokio::spawn(async move { daemon.prune().await });
            reply(StatusCode::OK, prune.await.expect("prune does not panic"))
        }
        (_, ["v1", "containers"]) | (_, ["v1", "containers", _, ..]) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} {path}: method not allowed", req.method()),
        ),
        _ => error(StatusCode::NOT_FOUND, format!("{path}: no such endpoint")),
    }
}

fn stop_timeout(pairs: &[(&str, &str)]) -> Result<Duration, String> {
    match pairs.iter().rev().find(|(k, _)| *k == "timeout") {
        None => Ok(STOP_TIMEOUT),
        Some((_, v)) => match v.parse::<u64>() {
            Ok(s) if s <= MAX_STOP_TIMEOUT => Ok(Duration::from_secs(s)),
            _ => Err(format!(
                "query: timeout: {v:?} is not a number of seconds up to {MAX_STOP_TIMEOUT}"
            )),
        },
    }
}

/// Sends the log file, then with `follow` whatever is appended, until the
/// container has finished for good or the client went away.
async fn stream_log(logs: crate::daemon::Logs, follow: bool, tx: mpsc::Sender<Bytes>) {
    let mut file = match tokio::fs::File::open(&logs.path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::error!("{}: {e}", logs.path.display());
            return;
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0u64;
    loop {
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(_) => return,
        };
        if n > 0 {
            pos += n as u64;
            if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                return;
            }
            continue;
        }
        if !follow {
            return;
        }
        // At the end: finished for good only if nothing came in between.
        let done = logs.finished().await;
        let len = tokio::fs::metadata(&logs.path).await.map(|m| m.len()).ok();
        if done && len.is_none_or(|l| l <= pos) {
            return;
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if file.seek(SeekFrom::Start(pos)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_bodies_name_the_bad_field() {
        let r = parse_run(br#"{"name":"web","labels":{"a":"b"},"memory":67108864}"#).unwrap();
        assert_eq!(r.name.as_deref(), Some("web"));
        let e = parse_run(br#"{"memory":"lots"}"#).unwrap_err();
        assert!(e.starts_with("request body: memory: invalid type"), "{e}");
        let e = parse_run(br#"{"labels":{"a":1}}"#).unwrap_err();
        assert!(e.starts_with("request body: labels.a: "), "{e}");
        let e = parse_run(br#"{"nmae":"x"}"#).unwrap_err();
        assert!(e.contains("unknown field `nmae`"), "{e}");
        let e = parse_run(b"{\"name\":").unwrap_err();
        assert!(
            e.starts_with("request body: name: EOF while parsing"),
            "{e}"
        );
        assert!(parse_run(b"{}").is_ok());
    }

    #[test]
    fn only_root_and_joltds_own_user_are_allowed() {
        assert!(allowed(0));
        assert!(allowed(nix::unistd::geteuid().as_raw()));
        if nix::unistd::geteuid().is_root() {
            assert!(!allowed(65534));
        }
    }

    #[test]
    fn stop_timeouts_are_bounded() {
        assert_eq!(stop_timeout(&[]), Ok(STOP_TIMEOUT));
        assert_eq!(
            stop_timeout(&[("timeout", "3")]),
            Ok(Duration::from_secs(3))
        );
        assert!(stop_timeout(&[("timeout", "-1")]).is_err());
        assert!(stop_timeout(&[("timeout", "99999")]).is_err());
    }

    #[test]
    fn flags_take_true_or_false() {
        assert_eq!(flag(&[], "all"), Ok(false));
        assert_eq!(flag(&[("all", "true")], "all"), Ok(true));
        assert_eq!(flag(&[("all", "")], "all"), Ok(true));
        assert!(flag(&[("all", "yes")], "all").is_err());
    }
}
