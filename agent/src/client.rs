//! client: joltd's API as chaosctl calls it: over the Unix socket, or over
//! TCP with mutual TLS to a node's `--listen` (see [`crate::tls`]).
//!
//! Owns the connection (HTTP/1.1 on either stream), turning an error
//! reply into its message, checking that a node's joltd is chaosctl's
//! version (every answer names it in its `Server` header), and streaming
//! a body (the logs) to a writer. It knows the paths and bodies of the
//! API, not how they are shown.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::{TcpStream, UnixStream};

/// The socket joltd listens on unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/jolt/joltd.sock";
/// What joltd says it is in every answer's `Server` header.
pub const SERVER: &str = concat!("joltd/", env!("CARGO_PKG_VERSION"));
/// How long chaosctl waits for a node to accept and finish the handshake.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach joltd at {}: {cause} (is joltd running? --socket or JOLT_SOCKET names another)", socket.display())]
    Connect {
        socket: PathBuf,
        cause: std::io::Error,
    },
    #[error("node {node}: cannot reach joltd at {address}: {cause}")]
    Unreachable {
        node: String,
        address: String,
        cause: String,
    },
    #[error("node {node}: {why}")]
    Tls { node: String, why: String },
    #[error("node {node}: joltd is {theirs}, chaosctl is {SERVER}; use the same version on both")]
    Version { node: String, theirs: String },
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

/// How chaosctl reaches one joltd.
#[derive(Clone)]
enum Transport {
    Unix(PathBuf),
    Tls {
        /// The node's name, for messages.
        node: String,
        /// `HOST:PORT`.
        address: String,
        server_name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    },
}

pub struct Client {
    transport: Transport,
}

/// The name in `HOST:PORT` (or `[V6]:PORT`) that a certificate must hold.
pub fn server_name_of(address: &str) -> Result<ServerName<'static>, String> {
    let host = match address.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => return Err(format!("{address:?}: expected HOST:PORT")),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| format!("{address:?}: {e}"))
}

impl Client {
    /// A client of the joltd on this node's `socket`.
    pub fn new(socket: &Path) -> Client {
        Client {
            transport: Transport::Unix(socket.to_path_buf()),
        }
    }

    /// A client of node `node`'s joltd at `address` over mutual TLS,
    /// verifying its certificate under `server_name`.
    pub fn tls(
        node: &str,
        address: &str,
        server_name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    ) -> Client {
        Client {
            transport: Transport::Tls {
                node: node.to_string(),
                address: address.to_string(),
                server_name,
                config,
            },
        }
    }

    /// An HTTP/1 connection to joltd.
    async fn connect(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, ClientError> {
        match &self.transport {
            Transport::Unix(socket) => {
                let stream =
                    UnixStream::connect(socket)
                        .await
                        .map_err(|cause| ClientError::Connect {
                            socket: socket.clone(),
                            cause,
                        })?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                Ok(sender)
            }
            Transport::Tls {
                node,
                address,
                server_name,
                config,
            } => {
                let unreachable = |cause: String| ClientError::Unreachable {
                    node: node.clone(),
                    address: address.clone(),
                    cause,
                };
                let connected = async {
                    let tcp = TcpStream::connect(address.as_str())
                        .await
                        .map_err(|e| unreachable(e.to_string()))?;
                    let _ = tcp.set_nodelay(true);
                    tokio_rustls::TlsConnector::from(config.clone())
                        .connect(server_name.clone(), tcp)
                        .await
                        .map_err(|e| ClientError::Tls {
                            node: node.clone(),
                            why: crate::tls::explain(&e).unwrap_or_else(|| format!("TLS: {e}")),
                        })
                };
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, connected)
                    .await
                    .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))??;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                Ok(sender)
            }
        }
    }

    /// A failed request in TLS's words where TLS failed it: with TLS 1.3
    /// the server refuses a client certificate after the handshake, so
    /// the first request is where chaosctl learns of it.
    fn refused_by_tls(&self, e: hyper::Error) -> ClientError {
        match (&self.transport, crate::tls::explain(&e)) {
            (Transport::Tls { node, .. }, Some(why)) => ClientError::Tls {
                node: node.clone(),
                why,
            },
            _ => ClientError::Http(e),
        }
    }

    /// Refuses an answer from a node whose joltd is another version.
    fn check_version(&self, resp: &Response<Incoming>) -> Result<(), ClientError> {
        let Transport::Tls { node, .. } = &self.transport else {
            return Ok(());
        };
        let theirs = resp
            .headers()
            .get(hyper::header::SERVER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("an unknown version");
        if theirs != SERVER {
            return Err(ClientError::Version {
                node: node.clone(),
                theirs: theirs.to_string(),
            });
        }
        Ok(())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut sender = self.connect().await?;
        let bytes = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "joltd")
            .header("content-type", "application/json")
            .body(Full::new(bytes))
            .expect("a valid request");
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| self.refused_by_tls(e))?;
        self.check_version(&resp)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};

    #[test]
    fn the_name_a_certificate_must_hold_comes_from_the_address() {
        assert_eq!(
            server_name_of("10.0.0.1:7443").unwrap(),
            ServerName::try_from("10.0.0.1").unwrap()
        );
        assert_eq!(
            server_name_of("[::1]:7443").unwrap(),
            ServerName::try_from("::1").unwrap()
        );
        assert!(server_name_of("joltd.example:7443").is_ok());
        assert!(server_name_of("10.0.0.1").is_err());
    }

    /// PEM files of a CA, a server certificate for 127.0.0.1 and a client
    /// certificate, in `dir`.
    fn certs(dir: &Path) -> (crate::tls::Files, crate::tls::Files) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |name: &str, sans: Vec<String>, usage| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(sans).unwrap();
            p.extended_key_usages = vec![usage];
            let cert = p.signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
            crate::tls::Files {
                ca: dir.join("ca.pem"),
                cert: dir.join(format!("{name}.pem")),
                key: dir.join(format!("{name}-key.pem")),
            }
        };
        let server = leaf(
            "server",
            vec!["127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = leaf("client", vec![], ExtendedKeyUsagePurpose::ClientAuth);
        (server, client)
    }

    /// A node whose joltd is of another version is refused, named.
    #[tokio::test]
    async fn a_joltd_of_another_version_is_refused_naming_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let (server, client) = certs(dir.path());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let acceptor = tokio_rustls::TlsAcceptor::from(server.server().unwrap());
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.unwrap();
            let service = hyper::service::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(
                    Response::builder()
                        .header(hyper::header::SERVER, "joltd/0.0.1")
                        .body(Full::new(Bytes::from("[]")))
                        .unwrap(),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
        let c = Client::tls(
            "node-a",
            &address,
            server_name_of(&address).unwrap(),
            client.client().unwrap(),
        );
        let e = c
            .call::<Value>(Method::GET, "/v1/containers", None)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("node node-a: joltd is joltd/0.0.1, chaosctl is {SERVER}; use the same version on both")
        );
    }
}
