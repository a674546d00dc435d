//! The `--listen` listener: joltd's whole API over TCP with mutual TLS,
//! for chaosctl on other machines (`--node`, a fleet file). A client must
//! present a certificate signed by `--tls-ca`; once the handshake is done
//! it is served as a root peer of the Unix socket is, within the same
//! bound on connections. A handshake must finish within the header
//! timeout, so a client that connects and says nothing holds a slot no
//! longer than an idle HTTP connection would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::{connections, trusted_connection, Agent};

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

    /// Accepts connections until dropped: each takes a slot, shakes hands
    /// (within the header timeout) and is served.
    pub(super) async fn accept_loop(&self, slots: &Arc<connections::Slots>, agent: &Agent) {
        loop {
            let (stream, peer) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::error!("--listen: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let slot = slots.take().await;
            let (acceptor, slots, agent) = (self.acceptor.clone(), slots.clone(), agent.clone());
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let limit = agent.limits.header_timeout;
                match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => trusted_connection(tls, slots, slot, agent).await,
                    Ok(Err(e)) => tracing::warn!(%peer, "--listen: refused a client: {e}"),
                    Err(_) => tracing::warn!(%peer, "--listen: no TLS handshake within {limit:?}"),
                }
            });
        }
    }
}
