//! The edge side of the relay: a [`LiveSource`] that pulls each watched stream once from its
//! origin into a local hub and fans it out to every viewer on this edge.
//!
//! Concurrent first viewers of a stream share one start ("single flight"): the first one
//! registers a flight and spawns its puller; the others wait on that flight's result. The
//! puller is a task of its own, so a viewer that gives up does not abort the start for others.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use ferrocast_base::StreamId;
use ferrocast_live::{Hub, LiveError, LiveSource, Subscription};
use ferrocast_proto::auth::NodeCredential;
use tokio::sync::watch;

use crate::shared::{FlightResult, Inner};
use crate::{RelayConfig, RelayError, StreamOwners, puller};

/// A [`LiveSource`] for edges: relays streams from the origins that own them.
///
/// Dropping it stops every pull and ends the local hubs.
pub struct RelaySource {
    inner: Arc<Inner>,
}

enum Joined {
    Live(Arc<Hub>, Subscription),
    Flight(watch::Receiver<Option<FlightResult>>),
}

impl RelaySource {
    /// An edge source that finds origins through `owners` and subscribes with `credential`
    /// (an edge's: origins refuse any other).
    pub fn new(
        owners: Arc<dyn StreamOwners>,
        config: RelayConfig,
        credential: NodeCredential,
    ) -> Self {
        Self {
            inner: Arc::new(Inner::new(owners, config, credential)),
        }
    }

    /// Number of open upstream subscriptions (at most one per pulled stream).
    pub fn upstream_count(&self) -> usize {
        self.inner.upstreams.load(Ordering::Relaxed)
    }

    /// Viewers of each stream pulled by this edge, for load reports.
    pub fn viewer_counts(&self) -> Vec<(StreamId, usize)> {
        self.inner.hubs.viewer_counts()
    }

    /// Number of streams this edge is pulling (including ones waiting to resubscribe).
    pub fn pulled_count(&self) -> usize {
        self.inner.hubs.len()
    }

    /// Joins the live local hub of `stream_id`, or the flight starting its pull, or starts one.
    fn join_or_start(&self, stream_id: &StreamId) -> Joined {
        let mut flights = self.inner.lock_flights();
        // Checked under the flights lock: a puller registers its hub before it retires its
        // flight, so a caller sees one or the other and never starts a second pull.
        if let Some(hub) = self.inner.hubs.get(stream_id)
            && let Some(subscription) = hub.subscribe()
        {
            return Joined::Live(hub, subscription);
        }
        // A flight whose sender is gone was abandoned (its puller panicked before reporting);
        // replace it rather than fail every later viewer of the stream.
        if let Some(flight) = flights.get(stream_id)
            && flight.has_changed().is_ok()
        {
            return Joined::Flight(flight.clone());
        }
        let (sender, receiver) = watch::channel(None);
        flights.insert(stream_id.clone(), receiver.clone());
        drop(flights);
        tokio::spawn(puller::run(self.inner.clone(), stream_id.clone(), sender));
        Joined::Flight(receiver)
    }
}

impl Drop for RelaySource {
    fn drop(&mut self) {
        self.inner.shutdown.cancel();
    }
}

#[async_trait]
impl LiveSource for RelaySource {
    async fn subscribe(&self, stream_id: &StreamId) -> Result<(Arc<Hub>, Subscription), LiveError> {
        let mut flight = match self.join_or_start(stream_id) {
            Joined::Live(hub, subscription) => return Ok((hub, subscription)),
            Joined::Flight(flight) => flight,
        };
        let deadline = self.inner.config.start_deadline();
        let result = match tokio::time::timeout(deadline, flight.wait_for(Option::is_some)).await {
            Ok(Ok(done)) => done.clone(),
            Ok(Err(_)) => return Err(RelayError::StartAbandoned.into()),
            Err(_) => return Err(RelayError::StartTimeout(deadline).into()),
        };
        let hub = match result {
            Some(Ok(hub)) => hub,
            Some(Err(error)) => return Err(error.into_live()),
            None => return Err(RelayError::NoStartResult.into()),
        };
        // The stream may have ended between its start and now.
        let subscription = hub.subscribe().ok_or(LiveError::Offline)?;
        Ok((hub, subscription))
    }
}
