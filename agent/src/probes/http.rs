//! The `http` check: one plain-HTTP/1.1 request on a fresh connection,
//! its status among the expected ones, its body holding a substring, and
//! the whole answer within max-latency. Also the request the `prometheus`
//! check makes.

use std::time::{Duration, Instant};

use super::{within, Check, Node, Outcome};
use futures::future::BoxFuture;
use futures::FutureExt;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use jolt_chaos::experiment::human;
use jolt_chaos::probe::{Http, Url};

/// The most of a body a check reads.
const MAX_BODY: usize = 1 << 20;

pub struct HttpCheck {
    spec: Http,
    /// The timeout, or max-latency when it is shorter: an answer slower
    /// than that fails anyway.
    cut: Duration,
    node: Node,
}

impl HttpCheck {
    pub fn new(spec: Http, timeout: Duration, node: Node) -> HttpCheck {
        let cut = spec.max_latency.map_or(timeout, |m| m.min(timeout));
        HttpCheck { spec, cut, node }
    }
}

impl Check for HttpCheck {
    fn run(&self) -> BoxFuture<'_, Outcome> {
        within(self.cut, async {
            let t0 = Instant::now();
            let (status, body) = match request(&self.node, &self.spec.method, &self.spec.url).await
            {
                Ok(answer) => answer,
                Err(e) => return Outcome::fail(t0.elapsed(), e),
            };
            let latency = t0.elapsed();
            if !self.spec.status.iter().any(|s| s.matches(status)) {
                let want: Vec<String> = self.spec.status.iter().map(ToString::to_string).collect();
                return Outcome::fail(
                    latency,
                    format!("status {status}, expected {}", want.join(" or ")),
                );
            }
            if let Some(needle) = &self.spec.body {
                if !String::from_utf8_lossy(&body).contains(needle.as_str()) {
                    return Outcome::fail(latency, format!("the body does not hold {needle:?}"));
                }
            }
            if let Some(max) = self.spec.max_latency.filter(|m| latency > *m) {
                return Outcome::fail(
                    latency,
                    format!(
                        "answered in {:.1} ms, more than max-latency {}",
                        latency.as_secs_f64() * 1e3,
                        human(max)
                    ),
                );
            }
            Outcome::pass(latency)
        })
        .boxed()
    }
}

/// `method url` on a new connection: the status and (up to 1 MiB of) the
/// body, or why there is none.
pub async fn request(node: &Node, method: &str, url: &Url) -> Result<(u16, Bytes), String> {
    let e = &url.endpoint;
    let stream = node
        .connect(e)
        .await
        .map_err(|err| format!("connect {e}: {err}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| format!("{}: {err}", url.text))?;
    let conn = tokio::spawn(conn);
    let answer = async {
        let req = Request::builder()
            .method(method)
            .uri(url.path.as_str())
            .header(hyper::header::HOST, e.to_string())
            .header(hyper::header::USER_AGENT, "jolt-probe")
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("{}: {err}", url.text))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|err| format!("{}: {err}", url.text))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|err| format!("{}: reading the body: {err}", url.text))?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    conn.abort();
    answer
}
