//! In-process control for `ferrocast dev`: streams in memory, and placement leases under the
//! same [`LeasePolicy`] as the cluster, over a [`MemoryLeaseStore`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::{Epoch, PlaybackId, StreamId, lock};
use ferrocast_control_client::{
    AuthError, DirectoryError, PlaybackStream, PublishAuthorizer, PublishGrant, StreamDirectory,
};

use crate::credentials::{claimed_stream_id, key_matches};
use crate::lease::{Acquired, Claim, HeldStream, LeasePolicy, MemoryLeaseStore};
use crate::{ControlConfig, StreamRecord};

/// The node id dev's one origin holds leases as.
const LOCAL_ORIGIN: &str = "local";

/// Control-plane state held in one process.
pub struct LocalControl {
    publish_app: String,
    streams: Mutex<HashMap<StreamId, StreamRecord>>,
    leases: LeasePolicy<MemoryLeaseStore>,
}

impl LocalControl {
    /// Control that accepts publishes on the RTMP application `publish_app`, with the
    /// cluster's default lease time to live and takeover time.
    pub fn new(publish_app: impl Into<String>) -> Self {
        let defaults = ControlConfig::default();
        Self::with_lease_timing(publish_app, defaults.lease_ttl, defaults.takeover_after)
    }

    /// Control whose leases lapse `lease_ttl` after their last renewal and are taken over
    /// after `takeover_after` without media (see [`ControlConfig`]).
    pub fn with_lease_timing(
        publish_app: impl Into<String>,
        lease_ttl: Duration,
        takeover_after: Duration,
    ) -> Self {
        Self {
            publish_app: publish_app.into(),
            streams: Mutex::default(),
            leases: LeasePolicy::new(MemoryLeaseStore::new(lease_ttl), takeover_after),
        }
    }

    /// Adds or replaces a stream.
    pub fn insert(&self, record: StreamRecord) {
        lock(&self.streams).insert(record.id.clone(), record);
    }

    /// Whether the stream has a publisher now.
    pub async fn is_live(&self, stream_id: &StreamId) -> bool {
        // The memory store cannot fail.
        matches!(self.leases.lease(stream_id).await, Ok(Some(_)))
    }

    /// The origin's heartbeat: renews the leases of the streams it publishes, each with how
    /// long ago it last had media, and restores a lapsed one whose epoch is still the newest.
    pub async fn heartbeat(&self, streams: &[HeldStream]) {
        let claim = Claim {
            origin_id: LOCAL_ORIGIN,
            relay_url: "",
        };
        // The memory store cannot fail; the policy logs lost and restored leases.
        if let Err(error) = self.leases.renew(claim, streams).await {
            tracing::warn!(%error, "local lease renewal failed");
        }
    }

    /// Makes every later epoch of `stream_id` greater than `epoch`: `dev` seeds this from its
    /// persisted index so epochs keep growing across restarts.
    pub fn raise_epoch_floor(&self, stream_id: &StreamId, epoch: Epoch) {
        self.leases.store().raise_epoch_floor(stream_id, epoch);
    }
}

#[async_trait]
impl PublishAuthorizer for LocalControl {
    async fn authorize(&self, app: &str, key: &str) -> Result<PublishGrant, AuthError> {
        if app != self.publish_app {
            return Err(AuthError::WrongApp(app.to_owned()));
        }
        let stream_id = claimed_stream_id(key).ok_or(AuthError::UnknownStream)?;
        let record = lock(&self.streams)
            .get(&stream_id)
            .cloned()
            .ok_or(AuthError::UnknownStream)?;
        let key_is_right = record
            .key_hash()
            .is_some_and(|hash| key_matches(key, &hash));
        if !key_is_right {
            return Err(AuthError::WrongKey { stream_id });
        }
        let claim = Claim {
            origin_id: LOCAL_ORIGIN,
            relay_url: "",
        };
        let decision = self.leases.acquire(&stream_id, claim).await;
        match decision.map_err(AuthError::unavailable)? {
            Acquired::Granted { epoch, .. } => Ok(PublishGrant {
                stream_id,
                playback_id: record.playback_id,
                epoch,
                // `dev` has no reaper: it records nothing.
                recording: None,
            }),
            Acquired::Refused { .. } => Err(AuthError::AlreadyLive { stream_id }),
        }
    }

    async fn release(&self, grant: &PublishGrant) {
        let released = self
            .leases
            .release(&grant.stream_id, grant.epoch, LOCAL_ORIGIN)
            .await;
        if let Err(error) = released {
            tracing::warn!(stream_id = grant.stream_id.as_str(), %error, "local lease release failed");
        }
    }
}

#[async_trait]
impl StreamDirectory for LocalControl {
    async fn resolve_playback(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<StreamId>, DirectoryError> {
        let streams = lock(&self.streams);
        let mut records = streams.values();
        Ok(records
            .find(|s| s.playback_id == *playback_id)
            .map(|s| s.id.clone()))
    }

    /// The stream with its record's policy. `dev` has no admin API to make signing keys (the
    /// key set stays empty), so its one stream is public.
    async fn resolve_stream(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<PlaybackStream>, DirectoryError> {
        let streams = lock(&self.streams);
        let mut records = streams.values();
        Ok(records
            .find(|s| s.playback_id == *playback_id)
            .map(|s| PlaybackStream {
                stream_id: s.id.clone(),
                policy: s.playback_policy,
                dvr_window: s.dvr_window.get(),
            }))
    }
}

#[cfg(test)]
mod tests {
    use ferrocast_base::PlaybackPolicy;

    use super::*;
    use crate::credentials::{key_hash_hex, new_stream_key};

    fn control_with_stream() -> (LocalControl, String) {
        let control = LocalControl::with_lease_timing(
            "live",
            Duration::from_secs(10),
            Duration::from_millis(200),
        );
        let key = new_stream_key(&StreamId::new("abc123"));
        control.insert(StreamRecord {
            id: "abc123".into(),
            playback_id: "p1".into(),
            key_sha256: key_hash_hex(&key),
            name: "test".into(),
            created_at_ms: 0,
            playback_policy: PlaybackPolicy::Signed,
            recording_retention: crate::Retention::Off,
            dvr_window: crate::DvrWindow::default(),
        });
        (control, key)
    }

    #[tokio::test]
    async fn one_publisher_per_stream_with_growing_epochs() {
        let (control, key) = control_with_stream();
        control.raise_epoch_floor(&StreamId::new("abc123"), Epoch(41));
        let first = control.authorize("live", &key).await.unwrap();
        let holder = [HeldStream {
            stream_id: "abc123".into(),
            epoch: first.epoch,
            media_age: Duration::ZERO,
        }];
        // A holder that keeps reporting media keeps its stream through the whole wait.
        let beats = async {
            loop {
                control.heartbeat(&holder).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let second = tokio::select! {
            second = control.authorize("live", &key) => second,
            () = beats => unreachable!("heartbeats never end"),
        };
        assert!(
            matches!(&second, Err(AuthError::AlreadyLive { stream_id }) if stream_id.as_str() == "abc123"),
            "{second:?}"
        );
        control.release(&first).await;
        let third = control.authorize("live", &key).await.unwrap();
        assert_eq!(first.epoch, Epoch(42), "epochs continue above the floor");
        assert!(third.epoch > first.epoch);
        assert_eq!(
            control
                .resolve_playback(&PlaybackId::new("p1"))
                .await
                .unwrap(),
            Some(StreamId::new("abc123"))
        );
        let found = control
            .resolve_stream(&PlaybackId::new("p1"))
            .await
            .unwrap();
        assert_eq!(found.map(|s| s.policy), Some(PlaybackPolicy::Signed));
        assert!(matches!(
            control.resolve_playback(&PlaybackId::new("nope")).await,
            Ok(None)
        ));
    }

    #[tokio::test]
    async fn refusals_name_the_stream_never_the_key() {
        let (control, key) = control_with_stream();
        let wrong = control
            .authorize("live", "sk_abc123_nottheright")
            .await
            .unwrap_err();
        assert_eq!(wrong.stream_id(), Some(&StreamId::new("abc123")));
        assert!(!format!("{wrong} {wrong:?}").contains("nottheright"));
        assert!(matches!(
            control.authorize("live", "garbage").await,
            Err(AuthError::UnknownStream)
        ));
        let app = control.authorize("other", &key).await.unwrap_err();
        assert_eq!(app.reason(), "wrong_app");
    }
}
