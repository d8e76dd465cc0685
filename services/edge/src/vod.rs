//! Recordings (live to VOD, ADR 21) under `/vod/{playback_id}/{recording_id}/`:
//! `index.m3u8`, the recording's MPEG-TS media playlist, and `<msn>.ts`, its segments, read
//! from the object store where the live stream left them (nothing was copied). Its CMAF
//! playlists and objects ([`crate::vod_cmaf`], ADR 24) share the admission, the lookups and
//! the caching here.
//!
//! Only what the recording's log lists is served, and nothing once the recording expired or
//! its deletion began (404). Caching: a ready recording never changes, so its playlist and
//! segments may be kept until it expires, at most a day (a CDN then asks again and learns of
//! a deletion within that day; `DELETE` should be followed by a CDN purge for sooner); the
//! playlist of a recording still growing is kept 1 s, like a live one.
//!
//! A signed stream's recording needs a playback token with `aud=recording` (ADR 22); the
//! playlist carries it into its segment URIs.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_base::{Epoch, Msn, PlaybackId, StreamId};
use ferrocast_media::hls::{parse_cmaf_vod_name, render_vod};
use ferrocast_store::{
    IndexError, Recording, RecordingSummary, SegmentRecord, SessionObject, StoreError,
    parse_recording_id,
};

use crate::auth::{self, Audience, Token};
use crate::dvr;
use crate::reply::{error, not_found, unavailable};
use crate::state::Edge;
use crate::unix_millis;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const SEGMENT_TYPE: &str = "video/mp2t";
/// The longest a CDN or player keeps anything of a recording, in seconds.
const MAX_AGE_S: i64 = 86_400;

/// A recording: its stream and its generation.
pub(crate) type RecordingAt<'a> = (&'a StreamId, Epoch);

/// `GET /vod/{playback_id}/{recording_id}/{file}`.
pub async fn serve(
    State(edge): State<Arc<Edge>>,
    Path((playback_id, recording_id, file)): Path<(PlaybackId, String, String)>,
    RawQuery(query): RawQuery,
    request: HeaderMap,
) -> Response {
    let audience = Audience::Recording;
    let (stream_id, token) =
        match auth::admit(&edge, &playback_id, query.as_deref(), &request, audience).await {
            Ok(access) => (access.stream_id, access.token),
            Err(response) => return response,
        };
    // A recording id names its stream: under another stream's playback id it is unknown.
    let at = match parse_recording_id(&recording_id) {
        Some((owner, generation)) if owner == stream_id => (&stream_id, generation),
        _ => return not_found(),
    };
    if file == "index.m3u8" {
        return playlist(&edge, at, token.as_ref()).await;
    }
    if let Some(name) = parse_cmaf_vod_name(&file) {
        return crate::vod_cmaf::serve(&edge, at, name, token.as_ref(), &request).await;
    }
    let Some(msn) = file.strip_suffix(".ts").and_then(canonical_msn) else {
        return not_found();
    };
    segment(&edge, at, msn, &request, |record| {
        Some((SessionObject::Ts { seq: record.seq }, SEGMENT_TYPE))
    })
    .await
}

/// A msn in its one spelling (`7`, never `07`), so each segment has one cacheable URL.
fn canonical_msn(text: &str) -> Option<Msn> {
    let msn: u64 = text.parse().ok()?;
    (msn.to_string() == text).then_some(Msn(msn))
}

async fn playlist(edge: &Edge, at: RecordingAt<'_>, token: Option<&Token>) -> Response {
    let recording = match servable_recording(edge, at).await {
        Ok(recording) => recording,
        Err(response) => return response,
    };
    let segments: Vec<_> = recording.segments.iter().map(dvr::entry).collect();
    let text = render_vod(&segments, recording.summary.is_ready());
    send_playlist(text, token, &recording.summary)
}

/// The recording at `at`, with a segment, if it may be served now; else the answer (404, or
/// 503 when the index cannot say).
pub(crate) async fn servable_recording(
    edge: &Edge,
    (stream_id, generation): RecordingAt<'_>,
) -> Result<Recording, Response> {
    let recording = match edge.deps.index.recording(stream_id, generation).await {
        Ok(Some(recording)) => recording,
        Ok(None) => return Err(not_found()),
        Err(failure) => return Err(index_failed(stream_id, &failure)),
    };
    if !recording.summary.is_servable(unix_millis()) || recording.segments.is_empty() {
        return Err(not_found());
    }
    Ok(recording)
}

/// A playlist of the recording `summary`, with `token` in its URIs, cached as its state
/// allows.
pub(crate) fn send_playlist(
    text: String,
    token: Option<&Token>,
    summary: &RecordingSummary,
) -> Response {
    let text = auth::uris::playlist(text, token);
    crate::metrics::hls_sent(text.len(), None);
    let mut response = ([(header::CONTENT_TYPE, PLAYLIST_TYPE)], text).into_response();
    set_cache(&mut response, cache_seconds(summary, unix_millis(), 1));
    response
}

/// Serves the object that `pick` names for the recorded segment `msn` (with its content
/// type), or 404 when it names none: the TS segment, or one of its CMAF objects.
pub(crate) async fn segment(
    edge: &Edge,
    (stream_id, generation): RecordingAt<'_>,
    msn: Msn,
    request: &HeaderMap,
    pick: impl FnOnce(&SegmentRecord) -> Option<(SessionObject, &'static str)>,
) -> Response {
    let found = edge
        .deps
        .index
        .recording_segment(stream_id, generation, msn)
        .await;
    let (summary, record) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(failure) => return index_failed(stream_id, &failure),
    };
    let now = unix_millis();
    if !summary.is_servable(now) {
        return not_found();
    }
    let Some((object, content_type)) = pick(&record) else {
        return not_found();
    };
    match edge
        .deps
        .segments
        .get_object(stream_id, record.epoch, object)
        .await
    {
        Ok(data) => {
            let (mut response, sent) =
                crate::object::respond(request, data, content_type, "no-cache");
            let media = !matches!(object, SessionObject::CmafInit { .. });
            crate::metrics::hls_sent(sent, media.then_some(record.duration_ms));
            if response.status().is_success() {
                let growing = i64::try_from(summary.retention_ms / 1000).unwrap_or(MAX_AGE_S);
                set_cache(&mut response, cache_seconds(&summary, now, growing));
            }
            response
        }
        Err(StoreError::NotFound) => {
            // Listed in a recording that is not being deleted: its object must exist.
            tracing::error!(%stream_id, msn = msn.get(), ?object, "recorded object missing from object store");
            not_found()
        }
        Err(failure) => {
            tracing::warn!(%stream_id, msn = msn.get(), ?object, error = %failure, "recorded object read failed");
            error(StatusCode::BAD_GATEWAY, "object store unavailable\n")
        }
    }
}

/// Seconds a response about `summary` may be cached at `now_ms`: until it expires (at most a
/// day) once ready, `growing` while it records.
fn cache_seconds(summary: &RecordingSummary, now_ms: i64, growing: i64) -> i64 {
    let seconds = match summary.expires_at_ms() {
        Some(expires) => expires.saturating_sub(now_ms) / 1000,
        None => growing,
    };
    seconds.clamp(0, MAX_AGE_S)
}

fn set_cache(response: &mut Response, seconds: i64) {
    let value = format!("public, max-age={seconds}");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
}

fn index_failed(stream_id: &StreamId, failure: &IndexError) -> Response {
    tracing::warn!(%stream_id, error = %failure, "index unavailable for a recording");
    unavailable("index unavailable\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lasts_until_expiry_at_most_a_day() {
        let ready = |retention_ms| RecordingSummary {
            ended_at_ms: Some(1_000_000),
            retention_ms,
            ..RecordingSummary::default()
        };
        assert_eq!(cache_seconds(&ready(30_000), 1_000_000, 1), 30);
        assert_eq!(cache_seconds(&ready(30_000), 2_000_000, 1), 0);
        assert_eq!(cache_seconds(&ready(u64::MAX), 1_000_000, 1), MAX_AGE_S);
        let growing = RecordingSummary::default();
        assert_eq!(cache_seconds(&growing, 5, 1), 1);
        assert_eq!(canonical_msn("07"), None);
        assert_eq!(canonical_msn("7"), Some(Msn(7)));
    }
}
