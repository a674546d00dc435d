//! The `tcp` check: a connection to an address succeeds within the
//! timeout.

use std::time::{Duration, Instant};

use super::{within, Check, Node, Outcome};
use futures::future::BoxFuture;
use futures::FutureExt;
use jolt_chaos::probe::Endpoint;

pub struct TcpCheck {
    pub endpoint: Endpoint,
    pub timeout: Duration,
    pub node: Node,
}

impl Check for TcpCheck {
    fn run(&self) -> BoxFuture<'_, Outcome> {
        within(self.timeout, async {
            let t0 = Instant::now();
            match self.node.connect(&self.endpoint).await {
                Ok(_) => Outcome::pass(t0.elapsed()),
                Err(e) => Outcome::fail(t0.elapsed(), format!("connect {}: {e}", self.endpoint)),
            }
        })
        .boxed()
    }
}
