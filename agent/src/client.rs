//! client: joltd's API as chaosctl calls it, over the Unix socket.
//!
//! Owns the connection (HTTP/1.1 on a tokio UnixStream), turning an error
//! reply into its message, and streaming a body (the logs) to a writer.
//! It knows the paths and bodies of the API, not how they are shown.

use std::io::Write;
use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::UnixStream;

/// The socket joltd listens on unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/jolt/joltd.sock";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach joltd at {}: {cause} (is joltd running? --socket or JOLT_SOCKET names another)", socket.display())]
    Connect {
        socket: PathBuf,
        cause: std::io::Error,
    },
    #[error("joltd: {0}")]
    Http(#[from] hyper::Error),
    /// joltd answered with an error: its HTTP status and message.
    #[error("{message}")]
    Refused { status: u16, message: String },
    #[error("joltd sent an unexpected answer: {0}")]
    Unexpected(String),
    #[error("writing the output: {0}")]
    Output(std::io::Error),
}

pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: &Path) -> Client {
        Client {
            socket: socket.to_path_buf(),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response<Incoming>, ClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|cause| ClientError::Connect {
                    socket: self.socket.clone(),
                    cause,
                })?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "joltd")
            .header("content-type", "application/json")
            .body(Full::new(bytes))
            .expect("a valid request");
        let resp = sender.send_request(req).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.into_body().collect().await?.to_bytes();
        let msg = serde_json::from_slice::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{status}: {}", String::from_utf8_lossy(&text)));
        Err(ClientError::Refused {
            status: status.as_u16(),
            message: msg,
        })
    }

    /// A request whose answer is JSON (or nothing, as `()` from 204).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ClientError> {
        let resp = self.send(method, path, body).await?;
        let text = resp.into_body().collect().await?.to_bytes();
        let text: &[u8] = if text.is_empty() { b"null" } else { &text };
        serde_json::from_slice(text).map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    /// A GET whose body is copied to `out` as it comes.
    pub async fn stream(&self, path: &str, out: &mut impl Write) -> Result<(), ClientError> {
        let mut body = self.send(Method::GET, path, None).await?.into_body();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                out.write_all(&data).map_err(ClientError::Output)?;
                out.flush().map_err(ClientError::Output)?;
            }
        }
        Ok(())
    }
}

/// A container name or ID as a path segment: anything but the characters
/// names may hold (and the ':' of a foreign ID, `NAMESPACE:ID`, which a
/// path segment may hold as it is) is percent-encoded.
pub fn segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
