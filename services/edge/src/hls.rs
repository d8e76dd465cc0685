//! HLS over HTTP: the media playlist rendered from the index, segments from the object store.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_media::hls::{self as playlist, Playlist, PlaylistSegment};
use ferrocast_store::{IndexState, StoreError};

use crate::router::{Edge, error, not_found};

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const SEGMENT_TYPE: &str = "video/mp2t";
/// Short enough that a CDN-cached playlist is at most a second stale.
const PLAYLIST_CACHE: &str = "public, max-age=1";
/// Segment objects are immutable.
const SEGMENT_CACHE: &str = "public, max-age=31536000, immutable";

/// `GET /hls/{playback_id}/{file}` for `index.m3u8` and `<msn>.ts`.
pub async fn serve(
    State(edge): State<Arc<Edge>>,
    Path((playback_id, file)): Path<(String, String)>,
) -> Response {
    let Some(stream_id) = edge.deps.directory.resolve_playback(&playback_id).await else {
        return not_found();
    };
    let state = match edge.deps.index.load(&stream_id).await {
        Ok(Some(state)) if !state.segments.is_empty() => state,
        Ok(_) => return not_found(),
        Err(failure) => {
            tracing::warn!(%stream_id, error = %failure, "index unavailable");
            return error(StatusCode::SERVICE_UNAVAILABLE, "index unavailable\n");
        }
    };
    if file == "index.m3u8" {
        return render_playlist(&edge, &state);
    }
    let Some(msn) = file.strip_suffix(".ts").and_then(|n| n.parse::<u64>().ok()) else {
        return not_found();
    };
    serve_segment(&edge, &stream_id, &state, msn).await
}

fn render_playlist(edge: &Edge, state: &IndexState) -> Response {
    let segments: Vec<PlaylistSegment> = state
        .segments
        .iter()
        .map(|record| PlaylistSegment {
            msn: record.msn,
            duration_ms: record.duration_ms,
            program_date_time_ms: record.program_date_time_ms,
            discontinuity: record.discontinuity,
        })
        .collect();
    let text = playlist::render(&Playlist {
        segments: &segments,
        discontinuity_base: state.discontinuity_base,
        window: edge.config.hls_window,
        min_target_duration_s: edge.config.hls_min_target_duration_s,
        ended: state.ended,
    });
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(PLAYLIST_TYPE),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(PLAYLIST_CACHE),
        ),
    ];
    crate::metrics::hls_sent(text.len(), None);
    (headers, text).into_response()
}

async fn serve_segment(edge: &Edge, stream_id: &str, state: &IndexState, msn: u64) -> Response {
    let Some(record) = state.segments.iter().find(|record| record.msn == msn) else {
        return not_found();
    };
    match edge
        .deps
        .segments
        .get(stream_id, record.epoch, record.seq)
        .await
    {
        Ok(data) => {
            let headers = [
                (header::CONTENT_TYPE, HeaderValue::from_static(SEGMENT_TYPE)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(SEGMENT_CACHE),
                ),
            ];
            crate::metrics::hls_sent(data.len(), Some(record.duration_ms));
            (headers, Body::from(data)).into_response()
        }
        Err(StoreError::NotFound) => {
            // The index lists it, so this breaks "object before index": say so loudly.
            tracing::error!(%stream_id, msn, "listed segment missing from object store");
            not_found()
        }
        Err(failure) => {
            tracing::warn!(%stream_id, msn, error = %failure, "segment read failed");
            error(StatusCode::BAD_GATEWAY, "object store unavailable\n")
        }
    }
}
