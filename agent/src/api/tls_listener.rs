//! The `--listen` listener: joltd's whole API over TCP with mutual TLS,
//! for chaosctl on other machines (`--node`, a fleet file). A client must
//! present a certificate signed by `--tls-ca`; once the handshake is done
//! it is served as a root peer of the Unix socket is, within the same
//! bound on connections. Until then it is nobody: handshakes have a bound
//! of their own ([`HANDSHAKES`] at once, each within [`HANDSHAKE_TIMEOUT`]),
//! so peers without a certificate can hold no slot of the API's bound and
//! never keep the Unix socket's clients waiting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::{connections, trusted_connection, Agent};

/// TLS handshakes in progress at once; the next connection is accepted
/// when one ends.
pub const HANDSHAKES: usize = 64;
/// How long a handshake may take (at most the header timeout).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound TCP socket and the TLS configuration it serves with.
pub struct Listener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl Listener {
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> Listener {
        Listener {
            tcp,
            acceptor: TlsAcceptor::from(config),
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    /// Accepts connections until dropped: each shakes hands (within
    /// the handshake bound), then takes a slot and is served.
    pub(super) async fn accept_loop(&self, slots: &Arc<connections::Slots>, agent: &Agent) {
        let handshakes = Arc::new(Semaphore::new(HANDSHAKES));
        loop {
            let shaking = handshakes
                .clone()
                .acquire_owned()
                .await
                .expect("the handshake semaphore is never closed");
            let (stream, peer) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::error!("--listen: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (acceptor, slots, agent) = (self.acceptor.clone(), slots.clone(), agent.clone());
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let limit = agent.limits.header_timeout.min(HANDSHAKE_TIMEOUT);
                let shaken = tokio::time::timeout(limit, acceptor.accept(stream)).await;
                drop(shaking);
                match shaken {
                    Ok(Ok(tls)) => {
                        let slot = slots.take().await;
                        trusted_connection(tls, slots, slot, agent).await
                    }
                    Ok(Err(e)) => tracing::warn!(%peer, "--listen: refused a client: {e}"),
                    Err(_) => tracing::warn!(%peer, "--listen: no TLS handshake within {limit:?}"),
                }
            });
        }
    }
}
