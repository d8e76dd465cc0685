//! `dev`'s live path: its edge reads live frames through the cluster's gRPC relay over
//! loopback, exactly as a cluster edge reads them from an origin, so every `dev` test exercises
//! the relay — its credential check, resubscription and timestamp rebasing included.
//!
//! The cluster secret is random per process and never leaves it: only this process's edge can
//! subscribe, and nothing is listening beyond 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use ferrocast_base::StreamId;
use ferrocast_control_client::{ClusterSecret, NodeCredential, Role};
use ferrocast_live::{Hubs, PartLogs};
use ferrocast_relay::{OwnersError, RelayConfig, RelayParts, RelaySource, StreamOwners};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Bytes of randomness in the in-process cluster secret (64 hex characters).
const SECRET_BYTES: usize = 32;
/// Node id of `dev`'s edge in its relay credential.
const EDGE_NODE_ID: &str = "dev-edge";

/// A relay server bound on loopback, and the secret its one edge shares.
pub(super) struct LoopbackRelay {
    listener: TcpListener,
    url: String,
    secret: ClusterSecret,
}

impl LoopbackRelay {
    /// Binds the relay on 127.0.0.1 at a free port with a fresh random secret.
    pub(super) async fn bind() -> anyhow::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .context("binding the loopback relay")?;
        let addr = listener.local_addr()?;
        let random: [u8; SECRET_BYTES] = rand::random();
        let secret =
            ClusterSecret::new(&hex::encode(random)).context("in-process cluster secret")?;
        Ok(Self {
            listener,
            url: format!("http://{addr}"),
            secret,
        })
    }

    /// The edge's live source: pulls through this relay every stream live in `hubs`.
    pub(super) fn source(
        &self,
        hubs: Arc<Hubs>,
        config: RelayConfig,
    ) -> anyhow::Result<RelaySource> {
        Ok(RelaySource::new(
            self.owners(hubs),
            config,
            self.credential()?,
        ))
    }

    /// The edge's part source: mirrors through this relay the part log of every stream live
    /// in `hubs`, each capped by `config.part_log`.
    pub(super) fn parts(&self, hubs: Arc<Hubs>, config: RelayConfig) -> anyhow::Result<RelayParts> {
        Ok(RelayParts::new(
            self.owners(hubs),
            config,
            self.credential()?,
        ))
    }

    fn owners(&self, hubs: Arc<Hubs>) -> Arc<LoopbackOwners> {
        Arc::new(LoopbackOwners {
            hubs,
            url: self.url.clone(),
        })
    }

    fn credential(&self) -> anyhow::Result<NodeCredential> {
        self.secret
            .credential(Role::Edge, EDGE_NODE_ID)
            .context("dev edge credential")
    }

    /// Serves the origin's `hubs` and `part_logs` until `until` is cancelled.
    pub(super) async fn serve(
        self,
        hubs: Arc<Hubs>,
        part_logs: Arc<PartLogs>,
        until: CancellationToken,
    ) -> anyhow::Result<()> {
        tracing::info!(url = %self.url, "loopback relay started");
        ferrocast_relay::serve(self.listener, hubs, part_logs, self.secret, until)
            .await
            .context("loopback relay")
    }
}

/// The owner registry of a one-origin cluster: the loopback relay owns every stream whose hub
/// exists (publishing, or lingering in the reconnect window).
struct LoopbackOwners {
    hubs: Arc<Hubs>,
    url: String,
}

#[async_trait]
impl StreamOwners for LoopbackOwners {
    async fn relay_url(&self, stream_id: &StreamId) -> Result<Option<String>, OwnersError> {
        let live = self.hubs.get(stream_id).is_some_and(|hub| !hub.is_ended());
        Ok(live.then(|| self.url.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_live::{Frame, HubLimits, LiveError, LiveSource};

    #[tokio::test]
    async fn edge_reads_a_live_hub_through_the_loopback_relay() {
        let hubs = Arc::new(Hubs::new(HubLimits::default()));
        let relay = LoopbackRelay::bind().await.unwrap();
        assert!(relay.url.starts_with("http://127.0.0.1:"));
        let source = relay.source(hubs.clone(), RelayConfig::default()).unwrap();
        let stop = CancellationToken::new();
        let part_logs = Arc::new(PartLogs::default());
        let server = tokio::spawn(relay.serve(hubs.clone(), part_logs, stop.clone()));

        let deadline = std::time::Duration::from_secs(10);
        let s = &StreamId::new("s");
        let offline = tokio::time::timeout(deadline, source.subscribe(s))
            .await
            .unwrap();
        assert!(matches!(offline, Err(LiveError::Offline)));

        let hub = hubs.start(s);
        let key = Frame::keyframe(0, &[0x17, 1, 0, 0, 0, 1]);
        hub.publish(key.clone());
        let (_edge_hub, subscription) = tokio::time::timeout(deadline, source.subscribe(s))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            subscription.start.last().map(|f| f.tag.clone()),
            Some(key.tag)
        );
        // One upstream, pulled over the relay rather than from the origin's hub directly.
        assert_eq!(source.upstream_count(), 1);
        assert_eq!(hub.viewer_count(), 1);

        drop(source);
        stop.cancel();
        tokio::time::timeout(deadline, server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
