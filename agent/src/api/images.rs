//! The image routes of joltd's API (`/v1/images...`): the import request,
//! the image reference in the path (percent-decoded: names hold `/` and
//! `:`), and how image errors become status codes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::{daemon_error, error, parse, read_body, reply, Reply};
use crate::daemon::Daemon;
use crate::image::credentials::Credentials;
use crate::image::ImageError;

/// What `chaosctl image import` asks joltd for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// An archive file or a layout directory on the node (absolute).
    pub path: PathBuf,
    /// `NAME[:TAG]` to give the image, instead of the archive's names.
    #[serde(default)]
    pub name: Option<String>,
}

/// What `chaosctl pull` asks joltd for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`, as Docker reads it.
    pub reference: String,
    /// For a registry that does not serve the image anonymously.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
}

pub(super) fn status(e: &ImageError) -> StatusCode {
    match e {
        ImageError::NotFound(_) => StatusCode::NOT_FOUND,
        ImageError::Registry { .. } => StatusCode::BAD_GATEWAY,
        ImageError::InUse { .. } => StatusCode::CONFLICT,
        ImageError::Store { .. } | ImageError::Record(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ImageError::Read { .. }
        | ImageError::Malformed(_)
        | ImageError::Layer { .. }
        | ImageError::Digest { .. }
        | ImageError::Platform { .. }
        | ImageError::Ambiguous { .. }
        | ImageError::Name { .. } => StatusCode::BAD_REQUEST,
    }
}

/// `%XX` escapes decoded; None when one is malformed or the result is
/// not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

pub(super) async fn handle(
    req: Request<Incoming>,
    daemon: Arc<Daemon>,
    body_timeout: Duration,
) -> Response<Reply> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let reference = path.strip_prefix("/v1/images/").map(percent_decode);
    match (method, reference) {
        (Method::POST, None) => {
            let body = match read_body(req, body_timeout).await {
                Ok(b) => b,
                Err(response) => return response,
            };
            let import: ImportRequest = match parse(&body) {
                Ok(r) => r,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            if !import.path.is_absolute() {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("path: {}: must be an absolute path", import.path.display()),
                );
            }
            // Spawned: a client that hangs up does not cut an import short.
            let imported =
                tokio::spawn(async move { daemon.import_image(import.path, import.name).await });
            match imported.await.expect("import does not panic") {
                Ok(image) => reply(StatusCode::CREATED, image),
                Err(e) => daemon_error(e),
            }
        }
        (Method::POST, Some(Some(pull))) if pull == "pull" => {
            let body = match read_body(req, body_timeout).await {
                Ok(b) => b,
                Err(response) => return response,
            };
            let pull: PullRequest = match parse(&body) {
                Ok(r) => r,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            // Spawned: a client that hangs up does not cut a pull short.
            let pulled = tokio::spawn(async move {
                daemon
                    .pull_image(&pull.reference, pull.credentials.as_ref())
                    .await
            });
            match pulled.await.expect("a pull does not panic") {
                Ok(image) => reply(StatusCode::CREATED, image),
                Err(e) => daemon_error(e),
            }
        }
        (Method::GET, None) => match daemon.images() {
            Ok(list) => reply(StatusCode::OK, list),
            Err(e) => daemon_error(e),
        },
        (Method::DELETE, Some(Some(reference))) if !reference.is_empty() => {
            let removing = tokio::spawn(async move { daemon.remove_image(&reference).await });
            match removing.await.expect("removing does not panic") {
                Ok(removal) => reply(StatusCode::OK, removal),
                Err(e) => daemon_error(e),
            }
        }
        (_, Some(None)) => error(
            StatusCode::BAD_REQUEST,
            "image reference: malformed percent-encoding",
        ),
        _ => error(StatusCode::NOT_FOUND, format!("{path}: no such endpoint")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_percent_decoded() {
        assert_eq!(
            percent_decode("localhost%2Fweb%3A1").as_deref(),
            Some("localhost/web:1")
        );
        assert_eq!(percent_decode("web:1").as_deref(), Some("web:1"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
    }
}
