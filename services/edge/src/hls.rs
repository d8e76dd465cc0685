//! HLS over HTTP: the multivariant playlist and the current generation's media playlist,
//! rendered from the index, and segments from the object store.
//!
//! `index.m3u8` names `media-{generation}.m3u8`; a new playlist after an ended one is a new
//! generation, so the ended one keeps its `EXT-X-ENDLIST` forever (ADR 14). Segments keep
//! their `{msn}.ts` names: msns are unique across generations. A signed stream's requests
//! need a token, which the playlists then write into the URIs they name ([`crate::auth`]).
//! A stream with a DVR window gets a longer media playlist, with delta updates
//! ([`crate::dvr`]).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_base::{Msn, PlaybackId, StreamId};
use ferrocast_media::hls::{self as playlist, Delta, Playlist, SegmentSize};
use ferrocast_store::{IndexState, SegmentRecord, StoreError};

use crate::auth::{self, Access, Audience, Token};
use crate::dvr;
use crate::reply::{error, not_found, unavailable};
use crate::state::Edge;
use crate::unix_millis;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const SEGMENT_TYPE: &str = "video/mp2t";
/// Short enough that a CDN-cached playlist is at most a second stale.
const PLAYLIST_CACHE: &str = "public, max-age=1";
/// Segment objects are immutable.
const SEGMENT_CACHE: &str = "public, max-age=31536000, immutable";
/// `BANDWIDTH` when no listed segment has a known size (records written before sizes were
/// kept): a typical 720p30 stream, so players pick the variant without over-buffering.
const BANDWIDTH_FLOOR: u64 = 3_000_000;

/// `GET /hls/{playback_id}/{file}` for `index.m3u8`, `media-{generation}.m3u8` and `<msn>.ts`
/// (which answers byte ranges: [`crate::object`]).
pub async fn serve(
    State(edge): State<Arc<Edge>>,
    Path((playback_id, file)): Path<(PlaybackId, String)>,
    RawQuery(query): RawQuery,
    request: HeaderMap,
) -> Response {
    let access = match auth::admit(
        &edge,
        &playback_id,
        query.as_deref(),
        &request,
        Audience::Live,
    )
    .await
    {
        Ok(access) => access,
        Err(response) => return response,
    };
    let Access {
        stream_id,
        token,
        dvr_window,
    } = access;
    let state = match edge.deps.index.load(&stream_id).await {
        Ok(Some(state)) if !state.segments.is_empty() => state,
        Ok(_) => return not_found(),
        Err(failure) => {
            // The index is read through a cache that already serves stale within its bound,
            // so this is an outage longer than that bound.
            tracing::warn!(%stream_id, error = %failure, "index unavailable");
            return unavailable("index unavailable\n");
        }
    };
    if file == "index.m3u8" {
        return render_multivariant(&state, token.as_ref());
    }
    if let Some(generation) = playlist::parse_media_playlist_name(&file) {
        // An older generation's playlist is gone with its segments; never serve the current
        // one under another name, or a cached old URL would jump to a different playlist.
        if generation != state.generation.get() {
            return not_found();
        }
        let dvr = (!dvr_window.is_zero()).then_some((dvr_window, query.as_deref()));
        return render_media(&edge, &stream_id, &state, dvr, token.as_ref()).await;
    }
    let Some(msn) = file
        .strip_suffix(".ts")
        .and_then(|n| n.parse::<u64>().ok())
        .map(Msn)
    else {
        return not_found();
    };
    let listed = state
        .segments
        .iter()
        .find(|record| record.msn == msn)
        .cloned();
    let record = match listed {
        Some(record) => record,
        None if !dvr_window.is_zero() => {
            match dvr::recorded_segment(&edge, &stream_id, &state, msn).await {
                Some(record) => record,
                None => return not_found(),
            }
        }
        None => return not_found(),
    };
    serve_segment(&edge, &stream_id, &record, &request).await
}

fn render_multivariant(state: &IndexState, token: Option<&Token>) -> Response {
    let text = playlist::render_multivariant(state.generation.get(), bandwidth(state));
    playlist_response(auth::uris::playlist(text, token))
}

/// The MPEG-TS variant's `BANDWIDTH`: the peak bit rate of the listed segments. Also what
/// `/ll/{playback_id}/multivariant.m3u8` announces for it.
pub(crate) fn bandwidth(state: &IndexState) -> u64 {
    peak_bandwidth(&state.segments)
}

/// The peak bit rate of `records`' TS segments, at least [`BANDWIDTH_FLOOR`].
pub(crate) fn peak_bandwidth(records: &[SegmentRecord]) -> u64 {
    let sizes: Vec<SegmentSize> = records
        .iter()
        .map(|record| SegmentSize {
            bytes: record.bytes,
            duration_ms: record.duration_ms,
        })
        .collect();
    playlist::peak_bandwidth(&sizes, BANDWIDTH_FLOOR)
}

/// The media playlist: the live window, or with `dvr` (the stream's window and the request's
/// query) the recorded segments before it within the window, with delta updates.
async fn render_media(
    edge: &Edge,
    stream_id: &StreamId,
    state: &IndexState,
    dvr: Option<(std::time::Duration, Option<&str>)>,
    token: Option<&Token>,
) -> Response {
    let mut segments: Vec<_> = state.segments.iter().map(dvr::entry).collect();
    let window = edge.config.hls_window;
    // A segment listed on time is shown for the window's duration; one listed late (after an
    // outage) for longer, so a player that stalled finds every one (`shown_count`).
    let keep_ms = i64::try_from(window)
        .unwrap_or(i64::MAX)
        .saturating_mul(i64::try_from(edge.config.hls_min_target_duration_s).unwrap_or(i64::MAX))
        .saturating_mul(1000);
    let listed: Vec<(i64, i64)> = state
        .segments
        .iter()
        .map(|record| {
            let duration = i64::try_from(record.duration_ms).unwrap_or(i64::MAX);
            let media_end = record.program_date_time_ms.saturating_add(duration);
            (record.listed_at_ms, media_end)
        })
        .collect();
    let mut shown = playlist::shown_count(&listed, window, unix_millis(), keep_ms);
    let mut discontinuity_base = state.discontinuity_base;
    let mut delta = Delta::default();
    let target_s = edge.config.hls_min_target_duration_s;
    if let Some((dvr_window, query)) = dvr {
        let older = dvr::older_segments(edge, stream_id, state, dvr_window).await;
        // They left the live listing, so the base counts their discontinuities already.
        let older_discontinuities = older.iter().filter(|s| s.discontinuity).count() as u64;
        discontinuity_base = discontinuity_base.saturating_sub(older_discontinuities);
        segments.splice(0..0, older);
        // Every retained live segment is within the window too.
        shown = segments.len();
        delta = dvr::delta(target_s, query);
    }
    let text = playlist::render_with(
        &Playlist {
            segments: &segments,
            discontinuity_base,
            window: shown,
            min_target_duration_s: target_s,
            ended: state.ended,
        },
        delta,
    );
    playlist_response(auth::uris::playlist(text, token))
}

fn playlist_response(text: String) -> Response {
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

async fn serve_segment(
    edge: &Edge,
    stream_id: &StreamId,
    record: &SegmentRecord,
    request: &HeaderMap,
) -> Response {
    let msn = record.msn;
    // The object is named by the writing session's own counter, not by the msn (decision 1).
    match edge
        .deps
        .segments
        .get(stream_id, record.epoch, record.seq)
        .await
    {
        Ok(data) => {
            let (response, sent) =
                crate::object::respond(request, data, SEGMENT_TYPE, SEGMENT_CACHE);
            crate::metrics::hls_sent(sent, Some(record.duration_ms));
            response
        }
        Err(StoreError::NotFound) => {
            // The index lists it, so this breaks "object before index": say so loudly.
            tracing::error!(%stream_id, msn = msn.get(), seq = record.seq, "listed segment missing from object store");
            not_found()
        }
        Err(failure) => {
            tracing::warn!(%stream_id, msn = msn.get(), error = %failure, "segment read failed");
            error(StatusCode::BAD_GATEWAY, "object store unavailable\n")
        }
    }
}
