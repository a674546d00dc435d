//! pull: an image from a registry (the OCI distribution API, through
//! oci-client), written as an OCI image layout that [`super::Images::import`]
//! then checks and unpacks as it does any other.
//!
//! Only this node's platform is fetched from a multi-platform index. Access
//! is anonymous (a registry's bearer-token challenge answered without
//! credentials, as for public images) unless [`Credentials`] are given:
//! then they answer a basic or bearer-token challenge. They are used for
//! this pull and kept nowhere. A registry on a loopback address
//! (`localhost`, `127.0.0.0/8`) is asked over plain HTTP, as
//! Docker treats those; any other over HTTPS, checked against the
//! system's certificate authorities.

use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::json;
use tokio::io::AsyncWrite;

use super::credentials::Credentials;
use super::manifest::{blob_member, sha256_hex, sha256_of};
use super::ImageError;

/// How long connecting to a registry may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a registry may leave a request without an answer or a byte.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A reference, parsed as Docker and podman read one (`busybox` is
/// `docker.io/library/busybox:latest`).
pub fn parse(reference: &str) -> Result<Reference, ImageError> {
    reference.parse().map_err(|e| ImageError::Name {
        name: reference.to_string(),
        why: format!("not an image reference: {e}"),
    })
}

/// The name a pulled image gets: `REGISTRY/REPOSITORY:TAG`, or none for a
/// reference by digest alone.
pub fn name(reference: &Reference) -> Option<String> {
    if reference.digest().is_some() && reference.tag().is_none() {
        return None;
    }
    Some(format!(
        "{}/{}:{}",
        reference.registry(),
        reference.repository(),
        reference.tag().unwrap_or("latest")
    ))
}

/// Whether `registry` (`HOST[:PORT]`) is on a loopback address.
fn loopback(registry: &str) -> bool {
    // References name no IPv6 host (the reference grammar has none).
    let host = registry.split(':').next().unwrap_or(registry);
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Fetches `reference`'s manifest for this platform, its config and its
/// layers into the empty directory `layout`, as an OCI image layout.
pub async fn fetch(
    reference: &Reference,
    credentials: Option<&Credentials>,
    layout: &Path,
) -> Result<(), ImageError> {
    let registry = reference.resolve_registry().to_string();
    let protocol = if loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    crate::tls::install_default_provider();
    let client = Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        ..Default::default()
    });
    let auth = match credentials {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    };
    let failed = |e: OciDistributionError| registry_error(reference, credentials.is_some(), e);
    let (manifest, _) = client
        .pull_image_manifest(reference, &auth)
        .await
        .map_err(&failed)?;
    let manifest_bytes = serde_json::to_vec(&manifest)
        .map_err(|e| ImageError::Malformed(format!("the registry's manifest: {e}")))?;
    let write = |member: &str, bytes: &[u8]| {
        let path = layout.join(member);
        std::fs::write(&path, bytes).map_err(|cause| ImageError::Store { path, cause })
    };
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|cause| ImageError::Store {
        path: blobs.clone(),
        cause,
    })?;
    for descriptor in std::iter::once(&manifest.config).chain(&manifest.layers) {
        fetch_blob(&client, reference, descriptor, layout, &failed).await?;
    }
    let manifest_hex = sha256_hex(&manifest_bytes);
    write(&blob_member(&manifest_hex), &manifest_bytes)?;
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.to_string());
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": media_type,
            "digest": format!("sha256:{manifest_hex}"),
            "size": manifest_bytes.len(),
        }],
    });
    write("index.json", index.to_string().as_bytes())?;
    write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
}

/// Streams one blob into the layout under its digest (checked to be a
/// SHA-256 before it names a file; its content is checked as it arrives
/// and again by the import). `failed` words the registry's errors.
async fn fetch_blob(
    client: &Client,
    reference: &Reference,
    descriptor: &OciDescriptor,
    layout: &Path,
    failed: &impl Fn(OciDistributionError) -> ImageError,
) -> Result<(), ImageError> {
    let digest: oci_spec::image::Digest = descriptor
        .digest
        .parse()
        .map_err(|e| ImageError::Malformed(format!("digest {:?}: {e}", descriptor.digest)))?;
    let hex = sha256_of(&digest)?;
    let path = layout.join(blob_member(&hex));
    let file = tokio::fs::File::create(&path)
        .await
        .map_err(|cause| ImageError::Store {
            path: path.clone(),
            cause,
        })?;
    let size = u64::try_from(descriptor.size).unwrap_or(0);
    let mut capped = Capped {
        inner: file,
        size,
        left: size,
    };
    client
        .pull_blob(reference, descriptor, &mut capped)
        .await
        .map_err(failed)?;
    capped
        .inner
        .sync_all()
        .await
        .map_err(|cause| ImageError::Store { path, cause })
}

/// A writer that takes at most the `size` bytes a manifest gives a blob:
/// a registry that sends more is cut off, not let fill the disk.
struct Capped<W> {
    inner: W,
    size: u64,
    left: u64,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Capped<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.len() as u64 > self.left {
            let size = self.size;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the registry sent more than the {size} bytes the manifest gives a blob"),
            )));
        }
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.left -= n as u64;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A registry's failure in words that name the reference and the cause.
/// `with_credentials`: whether credentials were sent (a refusal then
/// means they were wrong, not missing).
fn registry_error(
    reference: &Reference,
    with_credentials: bool,
    e: OciDistributionError,
) -> ImageError {
    let why = match &e {
        OciDistributionError::ImageManifestNotFoundError(_) => not_there(),
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown
                )
            }) =>
        {
            not_there()
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let said: Vec<_> = envelope.errors.iter().map(|e| e.message.as_str()).collect();
            format!("the registry said: {}", said.join("; "))
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_)
            if with_credentials =>
        {
            "the registry refused the credentials given".to_string()
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => {
            "the registry refused anonymous access (give --creds or --authfile)".to_string()
        }
        OciDistributionError::DigestError(d) => {
            format!("a blob's content does not match its digest (corrupt or altered): {d}")
        }
        OciDistributionError::RequestError(r) if r.is_connect() => {
            format!("cannot reach the registry: {}", chain(r))
        }
        OciDistributionError::RequestError(r) if r.is_timeout() => {
            "the registry did not answer in time".to_string()
        }
        OciDistributionError::RequestError(r) => chain(r),
        other => other.to_string(),
    };
    ImageError::Registry {
        reference: reference.whole(),
        why,
    }
}

fn not_there() -> String {
    "no such image or tag in the registry".to_string()
}

/// An error and its causes, joined: reqwest's own text hides the cause.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_references_are_docker_hub_ones_and_get_a_full_name() {
        let r = parse("busybox").unwrap();
        assert_eq!(name(&r).unwrap(), "docker.io/library/busybox:latest");
        let r = parse("127.0.0.1:5000/jolt/web:1").unwrap();
        assert_eq!(name(&r).unwrap(), "127.0.0.1:5000/jolt/web:1");
        let digest = format!("localhost:5000/web@sha256:{}", "a".repeat(64));
        assert_eq!(name(&parse(&digest).unwrap()), None, "by digest: nameless");
        assert!(parse("Not A Reference").is_err());
    }

    #[tokio::test]
    async fn a_blob_larger_than_its_manifest_says_is_cut_off() {
        use tokio::io::AsyncWriteExt;
        let mut capped = Capped {
            inner: Vec::new(),
            size: 4,
            left: 4,
        };
        capped.write_all(b"1234").await.unwrap();
        let err = capped.write_all(b"5").await.unwrap_err();
        assert!(err.to_string().contains("more than the 4 bytes"), "{err}");
        assert_eq!(capped.inner, b"1234");
    }

    #[test]
    fn only_loopback_registries_are_asked_over_http() {
        for r in ["localhost:5000", "127.0.0.1:5000", "127.3.4.5", "localhost"] {
            assert!(loopback(r), "{r}");
        }
        for r in [
            "registry-1.docker.io",
            "10.0.0.1:5000",
            "localhost.example.com",
        ] {
            assert!(!loopback(r), "{r}");
        }
    }
}
