//! The experiment routes of joltd's API (`/v1/experiments...`) and
//! `/metrics`: parsing, and how experiment errors become status codes.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::{error, flag, parse, query, read_body, reply, Reply};
use crate::experiments::{Applied, ApplyRequest, Experiments, ExperimentsError};
use crate::report::Report;

fn experiments_error(e: ExperimentsError) -> Response<Reply> {
    let status = match &e {
        ExperimentsError::NotFound(_) => StatusCode::NOT_FOUND,
        ExperimentsError::Conflict { .. } => StatusCode::CONFLICT,
        ExperimentsError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ExperimentsError::Store(_) | ExperimentsError::Journal(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    error(status, e.to_string())
}

pub(super) async fn handle(
    req: Request<Incoming>,
    experiments: Arc<Experiments>,
    body_timeout: Duration,
) -> Response<Reply> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    match (method, segments.as_slice()) {
        (Method::GET, ["metrics"]) => Response::builder()
            .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
            .body(Reply::Full(Full::new(Bytes::from(experiments.metrics()))))
            .expect("a valid response"),
        (Method::POST, ["v1", "experiments"]) => {
            let body = match read_body(req, body_timeout).await {
                Ok(b) => b,
                Err(response) => return response,
            };
            let apply: ApplyRequest = match parse(&body) {
                Ok(r) => r,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            let applied = tokio::spawn(async move { experiments.apply(apply).await });
            match applied.await.expect("apply does not panic") {
                Ok(Applied::Started(status)) => reply(StatusCode::CREATED, status),
                Ok(plan) => reply(StatusCode::OK, plan),
                Err(e) => experiments_error(e),
            }
        }
        (Method::GET, ["v1", "experiments"]) => reply(StatusCode::OK, experiments.list()),
        (Method::GET, ["v1", "experiments", name]) => match experiments.get(name) {
            Ok(s) => reply(StatusCode::OK, s),
            Err(e) => experiments_error(e),
        },
        (Method::GET, ["v1", "experiments", name, "events"]) => {
            let follow = match query(&req, &["follow"]).and_then(|q| flag(&q, "follow")) {
                Ok(f) => f,
                Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
            };
            if let Err(e) = experiments.get(name) {
                return experiments_error(e);
            }
            let (tx, rx) = mpsc::channel(16);
            tokio::spawn(stream_events(experiments, name.to_string(), follow, tx));
            Response::builder()
                .header("content-type", "application/x-ndjson")
                .body(Reply::Stream(rx))
                .expect("a valid response")
        }
        (Method::GET, ["v1", "experiments", name, "report"]) => {
            // The whole timeline is read and the report serialized: off
            // the async threads.
            let name = name.to_string();
            let built = tokio::task::spawn_blocking(move || {
                let (record, text, events) = experiments.report_input(&name)?;
                let report = Report::build(&record, &text, &events);
                Ok(serde_json::to_vec(&report).expect("reports serialize"))
            });
            match built.await.expect("a report does not panic") {
                Ok(json) => Response::builder()
                    .header("content-type", "application/json")
                    .body(Reply::Full(Full::new(Bytes::from(json))))
                    .expect("a valid response"),
                Err(e) => experiments_error(e),
            }
        }
        (Method::POST, ["v1", "experiments", name, "abort"]) => {
            let name = name.to_string();
            let abort = tokio::spawn(async move { experiments.abort(&name).await });
            match abort.await.expect("abort does not panic") {
                Ok(s) => reply(StatusCode::OK, s),
                Err(e) => experiments_error(e),
            }
        }
        (Method::DELETE, ["v1", "experiments", name]) => {
            let name = name.to_string();
            let delete = tokio::spawn(async move { experiments.delete(&name).await });
            match delete.await.expect("delete does not panic") {
                Ok(()) => Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(Reply::Full(Full::new(Bytes::new())))
                    .expect("a valid response"),
                Err(e) => experiments_error(e),
            }
        }
        (Method::GET, ["v1", "experiments", ..]) | (_, ["metrics"]) => {
            error(StatusCode::NOT_FOUND, format!("{path}: no such endpoint"))
        }
        (m, _) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{m} {path}: method not allowed"),
        ),
    }
}

/// Sends the timeline as JSON lines; with `follow`, what comes next too,
/// until the experiment has ended or the client went away.
async fn stream_events(
    experiments: Arc<Experiments>,
    name: String,
    follow: bool,
    tx: mpsc::Sender<Bytes>,
) {
    let mut sent = 0;
    loop {
        let Ok((events, more, mut changed)) = experiments.events(&name, sent) else {
            return;
        };
        sent += events.len();
        let full = events.len() == crate::timeline::BATCH;
        for e in events {
            let mut line = serde_json::to_vec(&e).expect("events serialize");
            line.push(b'\n');
            if tx.send(Bytes::from(line)).await.is_err() {
                return;
            }
        }
        if full {
            continue;
        }
        if !follow || !more {
            return;
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { return },
            _ = tx.closed() => return,
        }
    }
}
