//! The `prometheus` check: an instant query against a Prometheus-
//! compatible endpoint (`GET url?query=...`), whose one value must lie
//! within the probe's bounds.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use jolt_chaos::probe::{Prometheus, Url};
use serde_json::Value;

use super::http::request;
use super::{within, Check, Node, Outcome};
use crate::client::segment;

pub struct PrometheusCheck {
    spec: Prometheus,
    /// The endpoint with the query in it.
    url: Url,
    timeout: Duration,
    node: Node,
}

impl PrometheusCheck {
    pub fn new(spec: Prometheus, timeout: Duration, node: Node) -> PrometheusCheck {
        let path = query_path(&spec);
        let url = Url {
            path,
            ..spec.url.clone()
        };
        PrometheusCheck {
            spec,
            url,
            timeout,
            node,
        }
    }
}

impl Check for PrometheusCheck {
    fn run(&self) -> BoxFuture<'_, Outcome> {
        within(self.timeout, async {
            let t0 = Instant::now();
            let value = match request(&self.node, "GET", &self.url).await {
                Ok((200, body)) => value(&body),
                Ok((status, body)) => Err(format!(
                    "status {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)]).trim()
                )),
                Err(e) => Err(e),
            };
            let latency = t0.elapsed();
            let v = match value {
                Ok(v) => v,
                Err(e) => return Outcome::fail(latency, format!("{}: {e}", self.spec.query)),
            };
            match (self.spec.min, self.spec.max) {
                (Some(min), _) if v < min || v.is_nan() => Outcome::fail(
                    latency,
                    format!("{} = {v}, below min {min}", self.spec.query),
                ),
                (_, Some(max)) if v > max || v.is_nan() => Outcome::fail(
                    latency,
                    format!("{} = {v}, above max {max}", self.spec.query),
                ),
                _ => Outcome::pass(latency),
            }
        })
        .boxed()
    }
}

/// The endpoint's path with the query in its query string.
fn query_path(spec: &Prometheus) -> String {
    let sep = if spec.url.path.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{sep}query={}", spec.url.path, segment(&spec.query))
}

/// The one value of a query's answer: a scalar, or a vector of exactly
/// one sample.
fn value(body: &[u8]) -> Result<f64, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    if doc["status"] != "success" {
        return Err(format!(
            "the query failed: {}",
            doc["error"].as_str().unwrap_or("no error given")
        ));
    }
    let data = &doc["data"];
    let sample = match data["resultType"].as_str() {
        Some("scalar") => &data["result"],
        Some("vector") => match data["result"].as_array().map(Vec::as_slice) {
            Some([one]) => &one["value"],
            Some(many) => {
                return Err(format!(
                    "{} series in the answer; the query must give one value (wrap it in sum(), max() ...)",
                    many.len()
                ))
            }
            None => return Err("a vector without results".into()),
        },
        other => {
            return Err(format!(
                "a {} answer; expected a scalar or one sample",
                other.unwrap_or("shapeless")
            ))
        }
    };
    sample[1]
        .as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| format!("no value in {sample}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_from_a_scalar_or_a_single_sample() {
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"7"]}}"#;
        assert_eq!(value(scalar), Ok(7.0));
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.25"]}]}}"#;
        assert_eq!(value(vector), Ok(0.25));
        let two = br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}"#;
        assert!(value(two).unwrap_err().starts_with("2 series"));
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(value(empty).unwrap_err().starts_with("0 series"));
        let bad = br#"{"status":"error","error":"parse error"}"#;
        assert_eq!(value(bad), Err("the query failed: parse error".into()));
    }

    #[test]
    fn the_query_is_percent_encoded_into_the_url() {
        let url = Url {
            text: "http://p:9090/api/v1/query".into(),
            endpoint: jolt_chaos::probe::Endpoint {
                host: "p".into(),
                port: 9090,
            },
            path: "/api/v1/query".into(),
        };
        let spec = Prometheus {
            url,
            query: "up{job=\"a b\"}".into(),
            min: None,
            max: Some(1.0),
        };
        assert_eq!(
            query_path(&spec),
            "/api/v1/query?query=up%7Bjob%3D%22a%20b%22%7D"
        );
    }
}
