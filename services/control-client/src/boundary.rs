//! The boundaries that origins and edges call: publish authorization and stream lookup.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::{Epoch, PlaybackId, PlaybackPolicy, StreamId};

use crate::{ClientError, PlaybackStream, PublicSigningKey};

/// Permission to publish: this origin owns the stream under `epoch` until released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishGrant {
    /// The stream's internal id.
    pub stream_id: StreamId,
    /// The stream's public playback id.
    pub playback_id: PlaybackId,
    /// Fencing epoch; index writes carry it.
    pub epoch: Epoch,
    /// Whether and how the session records (ADR 21); `None`: it does not.
    pub recording: Option<RecordingGrant>,
}

/// How a publish session records its broadcast (live to VOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingGrant {
    /// How long the recording is kept after it ended.
    pub retention: Duration,
    /// The longest a recording grows; past it the recording stops.
    pub max_duration: Duration,
}

impl RecordingGrant {
    /// From the grant's wire fields (milliseconds): both must be set, or the session does not
    /// record. An older control sends neither, so its publishes record nothing (it would not
    /// reap what they kept).
    pub fn from_millis(retention_ms: u64, max_duration_ms: u64) -> Option<Self> {
        (retention_ms > 0 && max_duration_ms > 0).then(|| Self {
            retention: Duration::from_millis(retention_ms),
            max_duration: Duration::from_millis(max_duration_ms),
        })
    }

    /// The wire fields (milliseconds), both 0 for `None`.
    pub fn to_millis(grant: Option<Self>) -> (u64, u64) {
        let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        grant.map_or((0, 0), |grant| {
            (millis(grant.retention), millis(grant.max_duration))
        })
    }
}

/// Why a publish was refused. None of the variants carries the key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The RTMP application is not the publish application.
    #[error("unknown application {0:?}")]
    WrongApp(String),
    /// The key does not name a known stream.
    #[error("unknown stream")]
    UnknownStream,
    /// The key names a stream but its secret is wrong.
    #[error("wrong stream key for stream {stream_id}")]
    WrongKey {
        /// The stream the key claimed.
        stream_id: StreamId,
    },
    /// The stream already has a publisher.
    #[error("stream {stream_id} is already live")]
    AlreadyLive {
        /// The stream.
        stream_id: StreamId,
    },
    /// Control could not answer in time; publishing fails closed. The cause is kept (shared,
    /// so a refusal can be cloned into logs and metrics).
    #[error("authorization unavailable: {0}")]
    Unavailable(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl AuthError {
    /// Publishing fails closed because of `cause`: an error, or a message where there is none.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        AuthError::Unavailable(Arc::from(cause.into()))
    }

    /// A short, bounded label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::WrongApp(_) => "wrong_app",
            AuthError::UnknownStream => "unknown_stream",
            AuthError::WrongKey { .. } => "wrong_key",
            AuthError::AlreadyLive { .. } => "already_live",
            AuthError::Unavailable(_) => "unavailable",
        }
    }

    /// The stream concerned, where the key named one.
    pub fn stream_id(&self) -> Option<&StreamId> {
        match self {
            AuthError::WrongKey { stream_id } | AuthError::AlreadyLive { stream_id } => {
                Some(stream_id)
            }
            _ => None,
        }
    }
}

/// Decides who may publish, and places the stream on the asking origin.
#[async_trait]
pub trait PublishAuthorizer: Send + Sync {
    /// Checks `app` and `key`; on success the caller owns the stream under the grant's epoch.
    async fn authorize(&self, app: &str, key: &str) -> Result<PublishGrant, AuthError>;
    /// Ends the grant's lease (the publisher stopped).
    async fn release(&self, grant: &PublishGrant);
}

/// Why the directory could not answer. "No such stream" is not an error (`Ok(None)`), so a
/// caller can tell a 404 from a 503.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Control could not be reached (or did not answer in time) and nothing was cached.
    #[error("stream directory unavailable: {0}")]
    Unavailable(#[source] ClientError),
}

/// Resolves public playback ids to streams, with their playback policy, and lists the keys
/// that sign playback tokens.
#[async_trait]
pub trait StreamDirectory: Send + Sync {
    /// The internal stream id of a playback id: `Ok(None)` when no such stream exists,
    /// `Err` when the directory cannot tell right now.
    async fn resolve_playback(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<StreamId>, DirectoryError>;

    /// The stream of a playback id with its playback policy. A directory that knows no
    /// policies (a test twin) answers every stream public.
    async fn resolve_stream(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<PlaybackStream>, DirectoryError> {
        let found = self.resolve_playback(playback_id).await?;
        Ok(found.map(|stream_id| PlaybackStream {
            stream_id,
            policy: PlaybackPolicy::Public,
            dvr_window: std::time::Duration::ZERO,
        }))
    }

    /// Every current key that signs playback tokens (public halves only). Edges poll this
    /// and keep the last set they got; none means no token verifies, so a directory without
    /// keys fails closed for signed streams.
    async fn signing_keys(&self) -> Result<Vec<PublicSigningKey>, DirectoryError> {
        Ok(Vec::new())
    }
}
