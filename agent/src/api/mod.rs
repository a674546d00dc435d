//! api: joltd's HTTP/JSON interface on its Unix socket.
//!
//! Owns the socket (mode 0600, a stale one replaced, a live one refused),
//! the peer check (SO_PEERCRED: root, or joltd's own user), the routes,
//! request bodies (at most [`MAX_BODY`], read within the body timeout) and
//! their parsing (a JSON object and nothing after it; errors name the
//! field, in plain words), and how daemon errors become status codes.
//! Every error body is `{"error": MESSAGE}`; an answer given before the
//! request body was read whole (413, 408, a malformed or cut-short body)
//! closes the connection. The limits on connections are `connections`'.
//!
//! | method | path | body / query | answer |
//! |---|---|---|---|
//! | POST | /v1/containers | a `RunRequest` | 201, the record |
//! | GET | /v1/containers | `all=true` | the records, with the faults they are under |
//! | GET | /v1/containers/NAME | | the record, with the faults it is under |
//! | POST | /v1/containers/NAME/stop | `timeout=SECONDS` | the record; 409 naming the owner of a foreign container |
//! | DELETE | /v1/containers/NAME | `force=true` | 204; 409 naming the owner of a foreign container |
//! | GET | /v1/containers/NAME/logs | `follow=true` | the log, streamed |
//! | GET | /v1/containers/NAME/stats | | what it uses now: CPU time, memory and limit, tasks, network bytes; 409 when not running |
//! | GET | /v1/targets | | every running container, joltd's and foreign, with its origin and faults |
//! | POST | /v1/experiments | an `ApplyRequest` | 201, the status; 200, the plan (dry run) |
//! | GET | /v1/experiments | | the statuses |
//! | GET | /v1/experiments/NAME | | the status |
//! | GET | /v1/experiments/NAME/events | `follow=true` | JSON lines, streamed |
//! | GET | /v1/experiments/NAME/report | | the report (`report`; schema in docs/report.schema.json) |
//! | POST | /v1/experiments/NAME/abort | | the status, once reverted |
//! | DELETE | /v1/experiments/NAME | | 204 |
//! | POST | /v1/images | `{"path": FILE_OR_DIR, "name": NAME}` (name optional) | 201, the image |
//! | POST | /v1/images/pull | `{"reference": REF}` | 201, the image; 502 naming what the registry did |
//! | GET | /v1/images | | the images |
//! | DELETE | /v1/images/REF | | what was untagged and deleted; 409 naming a container that uses it |
//! | GET | /v1/networks | | the networks: name, bridge, subnet, gateway |
//! | GET | /v1/runtime | | the jolt binary and root joltd runs containers with (for `chaosctl exec`) |
//! | POST | /v1/system/prune | | what was removed and reported |
//! | GET | /metrics | | Prometheus text |

use std::convert::Infallible;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::header::CONNECTION;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::container::RunRequest;
use crate::daemon::{Daemon, DaemonError};
use crate::experiments::Experiments;
use crate::targets::{Sources, TargetSource};

pub mod connections;
mod experiments;
mod images;
pub mod metrics_listener;
pub mod tls_listener;

pub use connections::Limits;

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

/// What the API serves, and its limits.
#[derive(Clone)]
pub struct Agent {
    pub daemon: Arc<Daemon>,
    /// Every container on the node, joltd's and foreign.
    pub targets: Arc<Sources>,
    pub experiments: Arc<Experiments>,
    pub limits: Limits,
}

/// Serves connections (at most [`connections::bound`] at once) until
/// `shutdown` resolves, then waits (up to [`SHUTDOWN_WAIT`]) for the
/// requests that change containers to finish, and cuts running
/// experiments short (their faults reverted).
pub async fn serve(
    listener: UnixListener,
    tls: Option<tls_listener::Listener>,
    agent: Agent,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let wanted = agent.limits.max_connections;
    let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(u64::MAX, |(soft, _)| soft);
    let bound = connections::bound(wanted, nofile);
    if bound < wanted {
        tracing::warn!(
            "serving at most {bound} connections at once, not {wanted}: half the open-file limit ({nofile}); raise it (LimitNOFILE=) for more"
        );
    }
    let slots = Arc::new(connections::Slots::new(bound));
    let accepting = async {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::error!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let slot = slots.take().await;
            tokio::spawn(connection(stream, slots.clone(), slot, agent.clone()));
        }
    };
    let remote = async {
        match &tls {
            Some(l) => l.accept_loop(&slots, &agent).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown => {}
        () = accepting => {}
        () = remote => {}
    }
    drop(listener);
    drop(tls);
    agent.daemon.quiesce(SHUTDOWN_WAIT).await;
    agent.experiments.shutdown().await;
}

/// Whether a peer with `uid` may use joltd: root, or joltd's own user.
pub fn allowed(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// Serves one connection whose peer is already known to be allowed (a
/// client certificate the CA signed).
async fn trusted_connection<S>(
    stream: S,
    slots: Arc<connections::Slots>,
    slot: tokio::sync::OwnedSemaphorePermit,
    agent: Agent,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = agent.limits;
    let answer = move |req| handle(req, agent.clone());
    connections::serve(stream, slots, slot, limits, answer).await;
}

async fn connection(
    stream: UnixStream,
    slots: Arc<connections::Slots>,
    slot: tokio::sync::OwnedSemaphorePermit,
    agent: Agent,
) {
    let uid = stream.peer_cred().map(|c| c.uid()).ok();
    let limits = agent.limits;
    let answer = move |req| {
        let agent = agent.clone();
        async move {
            match uid {
                Some(uid) if allowed(uid) => handle(req, agent).await,
                Some(uid) => {
                    tracing::warn!(uid, "refused a peer");
                    error(
                        StatusCode::FORBIDDEN,
                        format!("permission denied: uid {uid} may not use joltd (root only)"),
                    )
                }
                None => error(StatusCode::FORBIDDEN, "permission denied: unknown peer"),
            }
        }
    };
    connections::serve(stream, slots, slot, limits, answer).await;
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

/// The request's body, up to [`MAX_BODY`] and within `timeout`. A body
/// too large (a Content-Length over the limit is answered before any of
/// the body is read), late, malformed or cut short gets an error that
/// closes the connection.
async fn read_body(req: Request<Incoming>, timeout: Duration) -> Result<Bytes, Response<Reply>> {
    collect_body(req, timeout)
        .await
        .map_err(|(status, msg)| closing(error(status, msg)))
}

async fn collect_body(
    req: Request<Incoming>,
    timeout: Duration,
) -> Result<Bytes, (StatusCode, String)> {
    let too_large = || {
        let msg = format!("request body: larger than the limit of {MAX_BODY} bytes");
        (StatusCode::PAYLOAD_TOO_LARGE, msg)
    };
    if req.body().size_hint().lower() > MAX_BODY as u64 {
        return Err(too_large());
    }
    let collect = Limited::new(req.into_body(), MAX_BODY).collect();
    let e = match tokio::time::timeout(timeout, collect).await {
        Ok(Ok(b)) => return Ok(b.to_bytes()),
        Ok(Err(e)) => e,
        Err(_) => {
            let within = humantime::format_duration(timeout);
            let msg = format!("request body: not all of it arrived within {within}");
            return Err((StatusCode::REQUEST_TIMEOUT, msg));
        }
    };
    if e.is::<LengthLimitError>() {
        return Err(too_large());
    }
    let io = std::iter::successors(Some(&*e as &(dyn std::error::Error + 'static)), |e| {
        (*e).source()
    })
    .find_map(|e| e.downcast_ref::<std::io::Error>());
    let msg = match io {
        Some(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "request body: cut short (the client closed the connection before its end)".into()
        }
        Some(io) => format!("request body: malformed ({io})"),
        None => format!("request body: {e}"),
    };
    Err((StatusCode::BAD_REQUEST, msg))
}

/// `response` with `Connection: close`: the connection ends after it.
fn closing(mut response: Response<Reply>) -> Response<Reply> {
    response
        .headers_mut()
        .insert(CONNECTION, hyper::header::HeaderValue::from_static("close"));
    response
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
        DaemonError::Invalid(_) | DaemonError::Bundle(_) => StatusCode::BAD_REQUEST,
        DaemonError::Failed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DaemonError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        DaemonError::Image(e) => images::status(e),
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

/// Parses a JSON request body into `T`: one JSON object, nothing after
/// it. Errors name the field and say what was expected in plain words.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let plain = |msg: String| jolt_chaos::text::plain(&msg, "a JSON object");
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err("request body: empty; expected a JSON object".into()),
        Some(_) => {
            return Err(match serde_json::from_slice::<Value>(body) {
                Ok(v) => format!(
                    "request body: expected a JSON object, not {}",
                    json_kind(&v)
                ),
                Err(e) => format!("request body: {}", plain(e.to_string())),
            })
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let msg = plain(e.inner().to_string());
        match path.as_str() {
            "." => format!("request body: {msg}"),
            _ => format!("request body: {path}: {msg}"),
        }
    })?;
    de.end()
        .map_err(|e| format!("request body: after the object: {e}"))?;
    Ok(value)
}

/// What a JSON value is, for messages: "an array", "null".
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

async fn handle(req: Request<Incoming>, agent: Agent) -> Response<Reply> {
    let path = req.uri().path().to_string();
    if path == "/metrics" || path.starts_with("/v1/experiments") {
        return experiments::handle(req, agent.experiments, agent.limits.body_timeout).await;
    }
    if path == "/v1/images" || path.starts_with("/v1/images/") {
        return images::handle(req, agent.daemon, agent.limits.body_timeout).await;
    }
    let daemon = agent.daemon.clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    tracing::debug!(%method, %path, "request");
    match (method, segments.as_slice()) {
        (Method::POST, ["v1", "containers"]) => {
            let body = match read_body(req, agent.limits.body_timeout).await {
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
            let records = daemon.list(all).await;
            reply(StatusCode::OK, agent.experiments.annotate(records))
        }
        (Method::GET, ["v1", "targets"]) => {
            if let Err(msg) = query(&req, &[]) {
                return error(StatusCode::BAD_REQUEST, msg);
            }
            let running = agent.targets.running().await;
            reply(StatusCode::OK, agent.experiments.annotate_targets(running))
        }
        (Method::GET, ["v1", "containers", name]) => match daemon.inspect(name).await {
            Ok(r) => reply(StatusCode::OK, agent.experiments.annotate(vec![r]).pop()),
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
                Err(DaemonError::NotFound(name)) => not_ours(&agent.targets, name, "stop").await,
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
                Err(DaemonError::NotFound(name)) => not_ours(&agent.targets, name, "remove").await,
                Err(e) => daemon_error(e),
            }
        }
        (Method::GET, ["v1", "containers", name, "stats"]) => match daemon.stats(name).await {
            Ok(stats) => reply(StatusCode::OK, stats),
            Err(e) => daemon_error(e),
        },
        (Method::GET, ["v1", "containers", name, "logs"]) => {
            let follow = match query(&req, &["follow"]).and_then(|q| flag(&q, "follow")) {
                Ok(f) => f,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            match daemon.logs(name).await {
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
        (Method::GET, ["v1", "runtime"]) => {
            if let Err(msg) = query(&req, &[]) {
                return error(StatusCode::BAD_REQUEST, msg);
            }
            reply(StatusCode::OK, daemon.jolt())
        }
        (Method::GET, ["v1", "networks"]) => {
            if let Err(msg) = query(&req, &[]) {
                return error(StatusCode::BAD_REQUEST, msg);
            }
            reply(StatusCode::OK, [daemon.network().config().listed()])
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

/// The answer to `what` (stop, remove) of `name`, which is not joltd's:
/// a conflict naming its owner when it is a foreign container, else not
/// found.
async fn not_ours(targets: &Sources, name: String, what: &str) -> Response<Reply> {
    let foreign = targets.foreign.clone();
    let looked = name.clone();
    let found = tokio::task::spawn_blocking(move || foreign.find(&looked))
        .await
        .expect("reading state roots does not panic");
    match found {
        Some(f) => error(
            StatusCode::CONFLICT,
            foreign_refusal(&name, &f.running.origin, what),
        ),
        None => daemon_error(DaemonError::NotFound(name)),
    }
}

/// Why joltd does not `what` (stop, remove) a container `origin` runs.
fn foreign_refusal(name: &str, origin: &str, what: &str) -> String {
    let tool = match origin.split_once('/') {
        Some(("containerd", ns)) => format!("ctr -n {ns}, crictl or kubectl"),
        _ if origin == "podman" => "podman".to_string(),
        _ => "jolt".to_string(),
    };
    format!(
        "container {name}: run by {origin}, not joltd: joltd does not stop, remove or restart it, only injects faults; {what} it with {tool}"
    )
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

/// Sends the log files, oldest first, then with `follow` whatever comes
/// (into the newest file, across rotations), until the container has
/// finished for good or the client went away.
async fn stream_log(logs: crate::daemon::Logs, follow: bool, tx: mpsc::Sender<Bytes>) {
    let mut reader = crate::logs::Reader::new(&logs.dir);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Finished before a read that finds nothing more: the end.
        let done = follow && logs.finished().await;
        let read = tokio::task::spawn_blocking(move || {
            let n = reader.read(&mut buf);
            (reader, buf, n)
        })
        .await
        .expect("reading a log does not panic");
        let n;
        (reader, buf, n) = read;
        match n {
            Ok(0) if !follow || done || tx.is_closed() => return,
            Ok(0) => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(n) => {
                if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!("log {}: {e}", logs.dir.display());
                return;
            }
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
    fn run_bodies_are_one_json_object_and_errors_name_no_rust_type() {
        for (body, want) in [
            (&b"[]"[..], "request body: expected a JSON object, not an array"),
            (b" null ", "request body: expected a JSON object, not null"),
            (b"7", "request body: expected a JSON object, not a number"),
            (b"\n", "request body: empty; expected a JSON object"),
            (b"[", "request body: EOF while parsing a list at line 1 column 1"),
            (
                b"{} []",
                "request body: after the object: trailing characters at line 1 column 4",
            ),
            (
                br#"{"memory": -1}"#,
                "request body: memory: invalid value: integer `-1`, expected a whole number, 0 or more at line 1 column 13",
            ),
            (
                br#"{"cpus": "x"}"#,
                "request body: cpus: invalid type: string \"x\", expected a number at line 1 column 12",
            ),
        ] {
            assert_eq!(parse_run(body).unwrap_err(), want);
        }
        let e = parse::<crate::experiments::ApplyRequest>(b"[]").unwrap_err();
        assert_eq!(e, "request body: expected a JSON object, not an array");
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
    fn a_foreign_container_is_refused_naming_its_owner() {
        assert_eq!(
            foreign_refusal("task1", "containerd/shop", "stop"),
            "container task1: run by containerd/shop, not joltd: joltd does not stop, remove or restart it, only injects faults; stop it with ctr -n shop, crictl or kubectl"
        );
        assert!(foreign_refusal("web", "podman", "remove").ends_with("remove it with podman"));
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
