//! In-process control for `ferrocast dev`: streams in memory, leases with epochs.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::credentials::{claimed_stream_id, key_matches};
use crate::{
    AuthError, DirectoryError, PublishAuthorizer, PublishGrant, StreamDirectory, StreamRecord,
};

/// Control-plane state held in one process.
pub struct LocalControl {
    publish_app: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    streams: HashMap<String, StreamRecord>,
    /// stream id → epoch of its current publisher.
    leases: HashMap<String, u64>,
    /// Epochs only grow, so a later publisher always fences an earlier one.
    last_epoch: u64,
}

impl LocalControl {
    /// Control that accepts publishes on the RTMP application `publish_app`.
    pub fn new(publish_app: impl Into<String>) -> Self {
        Self {
            publish_app: publish_app.into(),
            state: Mutex::default(),
        }
    }

    /// Adds or replaces a stream.
    pub fn insert(&self, record: StreamRecord) {
        self.lock().streams.insert(record.id.clone(), record);
    }

    /// Whether the stream has a publisher now.
    pub fn is_live(&self, stream_id: &str) -> bool {
        self.lock().leases.contains_key(stream_id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl PublishAuthorizer for LocalControl {
    async fn authorize(&self, app: &str, key: &str) -> Result<PublishGrant, AuthError> {
        if app != self.publish_app {
            return Err(AuthError::WrongApp(app.to_owned()));
        }
        let stream_id = claimed_stream_id(key).ok_or(AuthError::UnknownStream)?;
        let mut state = self.lock();
        let record = state
            .streams
            .get(stream_id)
            .ok_or(AuthError::UnknownStream)?;
        let key_is_right = record
            .key_hash()
            .is_some_and(|hash| key_matches(key, &hash));
        if !key_is_right {
            return Err(AuthError::WrongKey {
                stream_id: stream_id.to_owned(),
            });
        }
        if state.leases.contains_key(stream_id) {
            return Err(AuthError::AlreadyLive {
                stream_id: stream_id.to_owned(),
            });
        }
        let playback_id = record.playback_id.clone();
        state.last_epoch += 1;
        let epoch = state.last_epoch;
        state.leases.insert(stream_id.to_owned(), epoch);
        Ok(PublishGrant {
            stream_id: stream_id.to_owned(),
            playback_id,
            epoch,
        })
    }

    async fn release(&self, grant: &PublishGrant) {
        let mut state = self.lock();
        if state.leases.get(&grant.stream_id) == Some(&grant.epoch) {
            state.leases.remove(&grant.stream_id);
        }
    }
}

#[async_trait]
impl StreamDirectory for LocalControl {
    async fn resolve_playback(&self, playback_id: &str) -> Result<Option<String>, DirectoryError> {
        let state = self.lock();
        let mut streams = state.streams.values();
        Ok(streams
            .find(|s| s.playback_id == playback_id)
            .map(|s| s.id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{key_hash_hex, new_stream_key};

    fn control_with_stream() -> (LocalControl, String) {
        let control = LocalControl::new("live");
        let key = new_stream_key("abc123");
        control.insert(StreamRecord {
            id: "abc123".into(),
            playback_id: "p1".into(),
            key_sha256: key_hash_hex(&key),
            name: "test".into(),
            created_at_ms: 0,
        });
        (control, key)
    }

    #[tokio::test]
    async fn one_publisher_per_stream_with_growing_epochs() {
        let (control, key) = control_with_stream();
        let first = control.authorize("live", &key).await.unwrap();
        let second = control.authorize("live", &key).await;
        assert_eq!(
            second,
            Err(AuthError::AlreadyLive {
                stream_id: "abc123".into()
            })
        );
        control.release(&first).await;
        let third = control.authorize("live", &key).await.unwrap();
        assert!(third.epoch > first.epoch);
        assert_eq!(
            control.resolve_playback("p1").await.unwrap().as_deref(),
            Some("abc123")
        );
    }

    #[tokio::test]
    async fn refusals_name_the_stream_never_the_key() {
        let (control, key) = control_with_stream();
        let wrong = control
            .authorize("live", "sk_abc123_nottheright")
            .await
            .unwrap_err();
        assert_eq!(wrong.stream_id(), Some("abc123"));
        assert!(!format!("{wrong} {wrong:?}").contains("nottheright"));
        assert_eq!(
            control.authorize("live", "garbage").await,
            Err(AuthError::UnknownStream)
        );
        let app = control.authorize("other", &key).await.unwrap_err();
        assert_eq!(app.reason(), "wrong_app");
    }
}
