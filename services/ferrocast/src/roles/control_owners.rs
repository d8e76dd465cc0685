//! A cluster edge's owner lookup: its relay asks [`StreamOwners`] which origin publishes a
//! stream, and control answers through the edge's control client.

use async_trait::async_trait;
use ferrocast_base::StreamId;
use ferrocast_control_client::ControlClient;
use ferrocast_relay::{OwnersError, StreamOwners};

/// The control client, as the relay's owner registry.
pub(super) struct ControlOwners(pub(super) ControlClient);

#[async_trait]
impl StreamOwners for ControlOwners {
    async fn relay_url(&self, stream_id: &StreamId) -> Result<Option<String>, OwnersError> {
        self.0
            .relay_url(stream_id)
            .await
            .map_err(|error| OwnersError::Unavailable(Box::new(error)))
    }
}
