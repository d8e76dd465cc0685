//! What every handler shares: the edge's settings and backends, and the playback id
//! resolution they all start with. Its own module so that the router and the handlers it
//! routes to both depend on it rather than on each other.

use std::sync::Arc;

use axum::response::Response;
use ferrocast_base::{PlaybackId, StreamId};
use tokio::sync::Semaphore;

use crate::auth::KeyRing;
use crate::reply::{not_found, unavailable};
use crate::thumbnail::Thumbnails;
use crate::{EdgeConfig, EdgeDeps};

/// State shared by the handlers.
pub struct Edge {
    /// Settings.
    pub config: Arc<EdgeConfig>,
    /// Backends.
    pub deps: EdgeDeps,
    /// One permit per request allowed to wait for a part (`edge.ll_hls.max_blocked_requests`).
    pub blocked: Semaphore,
    /// The signing keys of playback tokens, kept fresh by `auth::keys::refresh`.
    pub keys: Arc<KeyRing>,
    /// Thumbnails: their cache and decoder; `None` if its thread could not be started.
    pub(crate) thumbnails: Option<Thumbnails>,
}

impl Edge {
    /// The handlers' state for `config` over `deps`, verifying tokens with `keys`.
    pub fn new(config: Arc<EdgeConfig>, deps: EdgeDeps, keys: Arc<KeyRing>) -> Self {
        let permits = config
            .ll_hls
            .max_blocked_requests
            .min(Semaphore::MAX_PERMITS);
        let thumbnails = Thumbnails::new(&config.thumbnails)
            .inspect_err(|error| tracing::error!(%error, "thumbnail worker not started"))
            .ok();
        Self {
            config,
            deps,
            blocked: Semaphore::new(permits),
            keys,
            thumbnails,
        }
    }
}

/// The stream id of `playback_id` **without** any token check, or the response to send
/// instead: 404 when the directory
/// says no such stream exists, 503 with `Retry-After` when it cannot tell (control unreachable
/// and the id not cached), so players and CDNs retry instead of giving up.
/// Media routes use [`crate::auth::admit`], which also enforces a signed stream's token.
#[allow(dead_code)] // kept for routes that serve nothing a signed stream protects
pub async fn resolve(edge: &Edge, playback_id: &PlaybackId) -> Result<StreamId, Response> {
    match edge.deps.directory.resolve_playback(playback_id).await {
        Ok(Some(stream_id)) => Ok(stream_id),
        Ok(None) => Err(not_found()),
        Err(failure) => {
            tracing::warn!(playback_id = playback_id.as_str(), error = %failure, "stream directory unavailable");
            Err(unavailable("stream directory unavailable\n"))
        }
    }
}
