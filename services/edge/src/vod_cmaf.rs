//! A recording's CMAF playlists and objects (ADR 24), beside its MPEG-TS ones under
//! `/vod/{playback_id}/{recording_id}/`: `cmaf.m3u8` (the multivariant playlist, audio as a
//! rendition), `video.m3u8` and `audio.m3u8`, each track's `{msn}.{track}.m4s`, and
//! `init.{msn}.{track}.mp4`, the init segment that segment `msn` needs.
//!
//! Everything comes from the recording's records: each names which tracks' CMAF objects the
//! origin stored for it and their init versions, so a playlist never names a missing object.
//! A recording without any (recorded before ADR 24, or whose CMAF objects were never stored)
//! answers 404 here, and its TS playlist still plays. The multivariant playlist's `CODECS`
//! and `RESOLUTION` are read from the first init segment of each track.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferrocast_base::Msn;
use ferrocast_media::cmaf::{InitDescription, TrackKind, describe_init};
use ferrocast_media::hls::{
    CmafVodName, CmafVodSegment, render_cmaf_vod, render_cmaf_vod_multivariant,
};
use ferrocast_store::{Recording, SessionObject, StoreError};

use crate::auth::Token;
use crate::dvr;
use crate::ll::objects::{INIT_TYPE, media_type};
use crate::reply::{error, not_found};
use crate::state::Edge;
use crate::vod::{self, RecordingAt};

/// Answers one CMAF name of the recording at `at`.
pub(crate) async fn serve(
    edge: &Edge,
    at: RecordingAt<'_>,
    name: CmafVodName,
    token: Option<&Token>,
    request: &HeaderMap,
) -> Response {
    match name {
        CmafVodName::Multivariant => multivariant(edge, at, token).await,
        CmafVodName::Playlist(track) => media_playlist(edge, at, track, token).await,
        CmafVodName::Segment { msn, track } => {
            vod::segment(edge, at, Msn(msn), request, |record| {
                record.cmaf.get(track)?;
                let seq = record.seq;
                let object = SessionObject::CmafSegment { seq, track };
                Some((object, media_type(track)))
            })
            .await
        }
        CmafVodName::Init { msn, track } => {
            vod::segment(edge, at, Msn(msn), request, |record| {
                let version = record.cmaf.get(track)?;
                Some((SessionObject::CmafInit { version, track }, INIT_TYPE))
            })
            .await
        }
    }
}

async fn media_playlist(
    edge: &Edge,
    at: RecordingAt<'_>,
    track: TrackKind,
    token: Option<&Token>,
) -> Response {
    let recording = match vod::servable_recording(edge, at).await {
        Ok(recording) => recording,
        Err(response) => return response,
    };
    let segments: Vec<CmafVodSegment> = recording
        .segments
        .iter()
        .map(|record| CmafVodSegment {
            segment: dvr::entry(record),
            init: record
                .cmaf
                .get(track)
                .map(|version| (record.epoch.get(), version)),
        })
        .collect();
    if segments.iter().all(|segment| segment.init.is_none()) {
        return not_found();
    }
    let text = render_cmaf_vod(track, &segments, recording.summary.is_ready());
    vod::send_playlist(text, token, &recording.summary)
}

async fn multivariant(edge: &Edge, at: RecordingAt<'_>, token: Option<&Token>) -> Response {
    let recording = match vod::servable_recording(edge, at).await {
        Ok(recording) => recording,
        Err(response) => return response,
    };
    let video = match describe_first_init(edge, at, &recording, TrackKind::Video).await {
        Ok(video) => video,
        Err(response) => return response,
    };
    let audio = match describe_first_init(edge, at, &recording, TrackKind::Audio).await {
        Ok(audio) => audio,
        Err(response) => return response,
    };
    // The TS segments' peak: the CMAF objects of the same media are a little smaller, and
    // BANDWIDTH is an upper bound.
    let bandwidth = crate::hls::peak_bandwidth(&recording.segments);
    match render_cmaf_vod_multivariant(video.as_ref(), audio.as_ref(), bandwidth) {
        Some(text) => vod::send_playlist(text, token, &recording.summary),
        None => not_found(),
    }
}

/// What the first stored init segment of `track` says; `None` when the recording has no
/// object of the track, or its init cannot be read (the variant then goes without it).
async fn describe_first_init(
    edge: &Edge,
    (stream_id, _): RecordingAt<'_>,
    recording: &Recording,
    track: TrackKind,
) -> Result<Option<InitDescription>, Response> {
    let Some((record, version)) = recording
        .segments
        .iter()
        .find_map(|record| Some((record, record.cmaf.get(track)?)))
    else {
        return Ok(None);
    };
    let object = SessionObject::CmafInit { version, track };
    let data = match edge
        .deps
        .segments
        .get_object(stream_id, record.epoch, object)
        .await
    {
        Ok(data) => data,
        Err(StoreError::NotFound) => {
            tracing::error!(%stream_id, ?object, "recorded init segment missing from object store");
            return Ok(None);
        }
        Err(failure) => {
            tracing::warn!(%stream_id, ?object, error = %failure, "recorded init segment read failed");
            return Err(error(StatusCode::BAD_GATEWAY, "object store unavailable\n"));
        }
    };
    match describe_init(&data) {
        Ok(description) => Ok(Some(description)),
        Err(failure) => {
            tracing::error!(%stream_id, ?object, error = %failure, "recorded init segment unreadable");
            Ok(None)
        }
    }
}
