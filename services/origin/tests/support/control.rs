//! Control as an origin sees it, for one stream: the stream's ids and key, and a twin that
//! grants that key, resolves that playback id and records the leases released. Shared by
//! the uploader tests and the tests through `run`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use ferrocast_base::{Epoch, PlaybackId, StreamId, lock};
use ferrocast_control_client::{
    AuthError, DirectoryError, PublishAuthorizer, PublishGrant, StreamDirectory,
};

/// The RTMP application publishers and players use.
pub const APP: &str = "live";
/// The one stream control knows.
pub const STREAM_ID: &str = "stream-1";
/// Its public playback id, which RTMP players ask for.
pub const PLAYBACK_ID: &str = "pb-1";
/// The one stream's id, typed.
pub fn stream_id() -> StreamId {
    StreamId::new(STREAM_ID)
}

/// Its stream key.
pub const KEY: &str = "sk-stream-1-secret";

/// Control as an origin sees it, for one stream: grants [`KEY`] with growing epochs, refuses
/// any other key, resolves [`PLAYBACK_ID`], and records the leases released.
#[derive(Default)]
pub struct OneStreamControl {
    epochs: AtomicU64,
    /// Epochs whose lease was released, in order.
    pub released: Mutex<Vec<Epoch>>,
}

#[async_trait]
impl PublishAuthorizer for OneStreamControl {
    async fn authorize(&self, app: &str, key: &str) -> Result<PublishGrant, AuthError> {
        if app != APP {
            return Err(AuthError::WrongApp(app.to_owned()));
        }
        if key != KEY {
            let stream_id = stream_id();
            return Err(AuthError::WrongKey { stream_id });
        }
        Ok(PublishGrant {
            stream_id: STREAM_ID.into(),
            playback_id: PLAYBACK_ID.into(),
            epoch: Epoch(self.epochs.fetch_add(1, Ordering::Relaxed) + 1),
            recording: None,
        })
    }

    async fn release(&self, grant: &PublishGrant) {
        lock(&self.released).push(grant.epoch);
    }
}

#[async_trait]
impl StreamDirectory for OneStreamControl {
    async fn resolve_playback(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<StreamId>, DirectoryError> {
        Ok((playback_id.as_str() == PLAYBACK_ID).then(stream_id))
    }
}
