//! The set of live hubs in a process, and the [`LiveSource`] boundary that viewers use.
//!
//! In `dev` and on an origin the hubs are fed by ingest; in the cluster an edge implements
//! [`LiveSource`] by relaying from the owning origin into hubs of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferrocast_base::{StreamId, lock};

use crate::{Claim, Hub, HubLimits, Subscription};

/// Why a live subscription could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The stream is not live.
    #[error("stream is not live")]
    Offline,
    /// The upstream that owns the stream could not be reached in time.
    #[error("live upstream unavailable: {0}")]
    Unavailable(#[source] UpstreamError),
}

/// Why an upstream could not be reached, as the source that relays it said. Shared: every
/// viewer that waited on one failed start gets the same error.
pub type UpstreamError = Arc<dyn std::error::Error + Send + Sync>;

/// Where viewers get live frames from.
#[async_trait]
pub trait LiveSource: Send + Sync {
    /// Subscribes to a stream by its internal id, starting at its last keyframe.
    async fn subscribe(&self, stream_id: &StreamId) -> Result<(Arc<Hub>, Subscription), LiveError>;
}

/// The hubs of the streams live in this process.
#[derive(Default)]
pub struct Hubs {
    limits: HubLimits,
    hubs: Mutex<HashMap<StreamId, Arc<Hub>>>,
}

impl Hubs {
    /// An empty registry whose hubs use `limits`.
    pub fn new(limits: HubLimits) -> Self {
        Self {
            limits,
            hubs: Mutex::default(),
        }
    }

    /// Starts a new hub for a publish session, ending any previous one of the same stream.
    pub fn start(&self, stream_id: &StreamId) -> Arc<Hub> {
        let hub = Arc::new(Hub::new(self.limits.clone()));
        let previous = lock(&self.hubs).insert(stream_id.clone(), hub.clone());
        if let Some(previous) = previous {
            previous.end();
        }
        hub
    }

    /// The hub a publish session feeds: the stream's current hub when it has not ended (a
    /// reconnecting encoder, or a newer session taking over, continues the same viewers),
    /// else a new one.
    pub fn join(&self, stream_id: &StreamId) -> (Arc<Hub>, Claim) {
        let mut hubs = lock(&self.hubs);
        if let Some(current) = hubs.get(stream_id)
            && let Some(claim) = current.claim()
        {
            return (current.clone(), claim);
        }
        let hub = Arc::new(Hub::new(self.limits.clone()));
        let claim = hub
            .claim()
            .expect("a hub that was just created has not ended");
        if let Some(previous) = hubs.insert(stream_id.clone(), hub.clone()) {
            previous.end();
        }
        (hub, claim)
    }

    /// Ends `hub` as [`Hubs::finish`] does, unless a session after `claim` joined it; returns
    /// whether it ended. Checked under the registry's lock, so a session joining at the same
    /// time either continues the hub or gets a new one, never an ended one.
    pub fn end_unless_claimed(&self, stream_id: &StreamId, hub: &Arc<Hub>, claim: &Claim) -> bool {
        let mut hubs = lock(&self.hubs);
        if !hub.is_claimed_by(claim) {
            return false;
        }
        hub.end();
        if hubs
            .get(stream_id)
            .is_some_and(|current| Arc::ptr_eq(current, hub))
        {
            hubs.remove(stream_id);
        }
        true
    }

    /// Ends `hub` and forgets it, unless a newer session already replaced it.
    pub fn finish(&self, stream_id: &StreamId, hub: &Arc<Hub>) {
        hub.end();
        let mut hubs = lock(&self.hubs);
        if hubs
            .get(stream_id)
            .is_some_and(|current| Arc::ptr_eq(current, hub))
        {
            hubs.remove(stream_id);
        }
    }

    /// The live hub of a stream, if any.
    pub fn get(&self, stream_id: &StreamId) -> Option<Arc<Hub>> {
        lock(&self.hubs).get(stream_id).cloned()
    }

    /// Each live stream's number of subscribed viewers, sorted by stream id.
    pub fn viewer_counts(&self) -> Vec<(StreamId, usize)> {
        let hubs = lock(&self.hubs);
        let mut counts: Vec<(StreamId, usize)> = hubs
            .iter()
            .map(|(id, hub)| (id.clone(), hub.viewer_count()))
            .collect();
        counts.sort();
        counts
    }

    /// Number of live streams.
    pub fn len(&self) -> usize {
        lock(&self.hubs).len()
    }

    /// Whether no stream is live.
    pub fn is_empty(&self) -> bool {
        lock(&self.hubs).is_empty()
    }
}

#[async_trait]
impl LiveSource for Hubs {
    async fn subscribe(&self, stream_id: &StreamId) -> Result<(Arc<Hub>, Subscription), LiveError> {
        let hub = self.get(stream_id).ok_or(LiveError::Offline)?;
        let subscription = hub.subscribe().ok_or(LiveError::Offline)?;
        Ok((hub, subscription))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joined_hub_outlives_its_first_session_until_unclaimed() {
        let hubs = Hubs::default();
        let s = &StreamId::new("s");
        let (hub, first) = hubs.join(s);
        let (again, second) = hubs.join(s);
        assert!(Arc::ptr_eq(&hub, &again));
        // The first session ending does not end the hub the second one feeds.
        assert!(!hubs.end_unless_claimed(s, &hub, &first));
        assert!(!hub.is_ended() && hubs.get(s).is_some());
        assert!(hubs.end_unless_claimed(s, &hub, &second));
        assert!(hub.is_ended() && hubs.get(s).is_none());
        let (fresh, claim) = hubs.join(s);
        assert!(!Arc::ptr_eq(&hub, &fresh));
        assert_eq!(claim.number, 1);
    }
}
