//! LL-HLS, DASH and the multivariant playlists under `/ll/{playback_id}/` (ADR 16), rendered
//! from the stream's part log ([`ferrocast_live::PartSource`]) by the pure renderers of
//! `ferrocast_media::ll`, so every edge answers the same bytes for the same log.
//!
//! - [`query`]: `_HLS_msn`, `_HLS_part`, `_HLS_skip` of a media playlist request;
//! - [`blocking`]: waiting for a part that does not exist yet, woken by the log's change
//!   notification (never by polling), capped per edge and bounded in time;
//! - [`manifests`]: media playlists, the multivariant playlists and the MPD;
//! - [`objects`]: init segments, parts and segments, from the log or from object storage.
//!
//! Nothing here depends on the edge or the viewer: no cookie, no session id, no host name.
//! A signed stream's token (checked by [`crate::auth`]) is written into every URI of the
//! playlists and the MPD answered to a request that carried it.

mod blocking;
mod manifests;
pub(crate) mod objects;
pub mod query;
mod stored;

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferrocast_base::{PlaybackId, StreamId};
use ferrocast_live::{LiveError, LogChannel};
use ferrocast_media::ll::names::{self, LlName};

use crate::auth::{self, Audience};
use crate::reply::{not_found, unavailable};
use crate::state::Edge;

/// `GET /ll/{playback_id}/{file}`: the playlists and the MPD.
pub async fn serve(
    State(edge): State<Arc<Edge>>,
    Path((playback_id, file)): Path<(PlaybackId, String)>,
    RawQuery(query): RawQuery,
    request: HeaderMap,
) -> Response {
    let Some(name) = names::parse(&file) else {
        return not_found();
    };
    serve_name(&edge, &playback_id, name, query.as_deref(), &request).await
}

/// `GET /ll/{playback_id}/{epoch}/{file}`: init segments, parts and segments.
pub async fn serve_object(
    State(edge): State<Arc<Edge>>,
    Path((playback_id, epoch, file)): Path<(PlaybackId, String, String)>,
    RawQuery(query): RawQuery,
    request: HeaderMap,
) -> Response {
    // One parser for every name, so a spelling `names` refuses is refused here too.
    let Some(name) = names::parse(&format!("{epoch}/{file}")) else {
        return not_found();
    };
    serve_name(&edge, &playback_id, name, query.as_deref(), &request).await
}

async fn serve_name(
    edge: &Edge,
    playback_id: &PlaybackId,
    name: LlName,
    query: Option<&str>,
    request: &HeaderMap,
) -> Response {
    match answer(edge, playback_id, name, query, request).await {
        Ok(response) | Err(response) => response,
    }
}

/// The answer to `name` (objects honour `request`'s `Range`); `Err` is an early answer (an
/// unknown id, a refused token, an unreachable backend).
async fn answer(
    edge: &Edge,
    playback_id: &PlaybackId,
    name: LlName,
    query: Option<&str>,
    request: &HeaderMap,
) -> Result<Response, Response> {
    let access = auth::admit(edge, playback_id, query, request, Audience::Live).await?;
    let (stream_id, token) = (access.stream_id, access.token);
    let response = match name {
        LlName::Playlist(track) => {
            let request =
                query::parse(query.unwrap_or_default()).map_err(manifests::bad_request)?;
            let channel = log(edge, &stream_id).await?.ok_or_else(not_found)?;
            manifests::media_playlist(edge, &channel, track, request, token.as_ref()).await
        }
        LlName::LlMultivariant | LlName::Multivariant => {
            let channel = log(edge, &stream_id).await?.ok_or_else(not_found)?;
            let with_ts = name == LlName::Multivariant;
            let listed = manifests::Listed {
                stream_id: &stream_id,
                playback_id,
                token: token.as_ref(),
            };
            manifests::multivariant(edge, &listed, &channel, with_ts).await
        }
        LlName::Mpd => {
            let channel = log(edge, &stream_id).await?.ok_or_else(not_found)?;
            manifests::mpd(&channel, token.as_ref())
        }
        object @ (LlName::Init { .. } | LlName::Segment { .. } | LlName::Part { .. }) => {
            // An offline stream's complete segments and inits may still be in storage.
            let channel = log(edge, &stream_id).await?;
            objects::serve(edge, &stream_id, channel.as_deref(), object, request).await
        }
    };
    Ok(response)
}

/// The stream's part log; `Ok(None)` when it is not live, `Err` (503) when its origin
/// cannot be reached.
async fn log(edge: &Edge, stream_id: &StreamId) -> Result<Option<Arc<LogChannel>>, Response> {
    match edge.deps.parts.log(stream_id).await {
        Ok(channel) => Ok(Some(channel)),
        Err(LiveError::Offline) => Ok(None),
        Err(LiveError::Unavailable(failure)) => {
            tracing::warn!(%stream_id, error = %failure, "part log unavailable");
            Err(unavailable("live upstream unavailable\n"))
        }
    }
}
