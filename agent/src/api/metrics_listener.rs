//! The `--metrics-listen` listener: `GET /metrics` over plain TCP, so
//! that a Prometheus server can scrape joltd. Read-only and nothing else:
//! every other path is 404 and every other method 405; the API stays on
//! the root-only Unix socket. At most [`MAX_CONNECTIONS`] at once, each
//! bounded by a header timeout, so a scraper that hangs cannot pile up.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::experiments::Experiments;

/// Connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a client may take to send its request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `/metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, experiments: Arc<Experiments>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::error!("metrics listener: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let experiments = experiments.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let response = answer(&req, &experiments);
                async move { Ok::<_, Infallible>(response) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("metrics listener: {e}");
            }
            drop(slot);
        });
    }
}

fn answer(req: &Request<Incoming>, experiments: &Experiments) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .expect("a valid response")
    };
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => Response::builder()
            .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
            .body(Full::new(Bytes::from(experiments.metrics())))
            .expect("a valid response"),
        (m, "/metrics") => {
            let mut r = text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{m} /metrics: only GET is served here\n"),
            );
            r.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET"),
            );
            r
        }
        (_, path) => text(
            StatusCode::NOT_FOUND,
            format!("{path}: only /metrics is served on this listener\n"),
        ),
    }
}
