//! What a [`crate::RelaySource`] shares with the pullers it spawns: the owner lookup, the
//! credential, the local hubs, the flights of starting pulls and the upstream count. A
//! module of its own, so the source, the pullers and the upstream code all depend on it and
//! not on each other.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use ferrocast_base::{StreamId, lock};
use ferrocast_live::{Hub, Hubs};
use ferrocast_proto::auth::NodeCredential;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{RelayConfig, RelayError, StreamOwners};

/// The outcome of starting a pull, shared by every viewer waiting for it.
pub(crate) type FlightResult = Result<Arc<Hub>, Arc<RelayError>>;

/// Pulls being started, by stream id.
pub(crate) type Flights = HashMap<StreamId, watch::Receiver<Option<FlightResult>>>;

/// State shared between the source and its pullers.
pub(crate) struct Inner {
    pub(crate) owners: Arc<dyn StreamOwners>,
    pub(crate) config: RelayConfig,
    /// This edge's cluster credential, sent with every `Subscribe`.
    pub(crate) credential: NodeCredential,
    /// Streams being pulled, fed by their pullers.
    pub(crate) hubs: Hubs,
    /// Pulls being started; an entry lives from spawn until the hub exists or the start
    /// failed.
    flights: Mutex<Flights>,
    /// Open upstream subscriptions.
    pub(crate) upstreams: Arc<AtomicUsize>,
    pub(crate) shutdown: CancellationToken,
}

impl Inner {
    /// Shared state of a source that finds origins through `owners`.
    pub(crate) fn new(
        owners: Arc<dyn StreamOwners>,
        config: RelayConfig,
        credential: NodeCredential,
    ) -> Self {
        Self {
            hubs: Hubs::new(config.hub_limits.clone()),
            owners,
            config,
            credential,
            flights: Mutex::default(),
            upstreams: Arc::default(),
            shutdown: CancellationToken::new(),
        }
    }

    /// The flights, locked. The map stays consistent across a panic (single inserts and
    /// removes), so a poisoned lock is taken over.
    pub(crate) fn lock_flights(&self) -> MutexGuard<'_, Flights> {
        lock(&self.flights)
    }

    /// Retires the flight of `stream_id`; only its own puller calls this, once.
    pub(crate) fn retire_flight(&self, stream_id: &StreamId) {
        self.lock_flights().remove(stream_id);
    }

    /// Ends and forgets `hub` if it still has no viewer. Decided under the flights lock, so a
    /// viewer joining at this moment either is counted or starts a fresh pull.
    pub(crate) fn stop_if_unwatched(&self, stream_id: &StreamId, hub: &Arc<Hub>) -> bool {
        let _flights = self.lock_flights();
        if hub.viewer_count() > 0 {
            return false;
        }
        self.hubs.finish(stream_id, hub);
        true
    }
}
