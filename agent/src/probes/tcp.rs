//! The `tcp` check: a connection to an address succeeds within the
//! timeout.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use jolt_chaos::probe::Endpoint;
use tokio::net::TcpStream;

use super::{within, Check, Outcome};

pub struct TcpCheck {
    pub endpoint: Endpoint,
    pub timeout: Duration,
}

impl Check for TcpCheck {
    fn run(&self) -> BoxFuture<'_, Outcome> {
        within(self.timeout, async {
            let t0 = Instant::now();
            match TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port)).await {
                Ok(_) => Outcome::pass(t0.elapsed()),
                Err(e) => Outcome::fail(t0.elapsed(), format!("connect {}: {e}", self.endpoint)),
            }
        })
        .boxed()
    }
}
