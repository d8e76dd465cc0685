//! The LL-HLS media playlists (with blocking reload and delta updates), the multivariant
//! playlists and the DASH MPD, rendered from the part log.
//!
//! Caching (a CDN in front of the edges):
//! - a **blocking** request (`_HLS_msn`) is answered up to exactly the part it names (ADR 16
//!   decision 7), so its URL always gets the same bytes on every edge: a CDN may keep it, and
//!   collapses the identical requests of every viewer of the stream into one
//!   ([`BLOCKING_CACHE`]);
//! - a **plain** request gets the newest state, which changes with every part (a third of a
//!   second), so it is not cached ([`PLAIN_CACHE`]): a player starts at the live edge of the
//!   playlist it gets first, and hls.js does not catch up on its own, so a copy a second old
//!   would add a second of latency for the whole session. Players ask it once, then block;
//! - the multivariant playlists and the MPD change with each segment ([`MANIFEST_CACHE`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrocast_base::{PlaybackId, StreamId};
use ferrocast_live::LogChannel;
use ferrocast_media::cmaf::TrackKind;
use ferrocast_media::hls::media_playlist_name;
use ferrocast_media::ll::mpd;
use ferrocast_media::ll::playlist::{self, Answer, Request};
use ferrocast_media::ll::variants::{self, TsVariant};

use super::blocking;
use super::query::Refused;
use crate::auth::{Token, uris};
use crate::metrics::LlKind;
use crate::reply::{error, not_found, unavailable};
use crate::state::Edge;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const MPD_TYPE: &str = "application/dash+xml";
/// An answer to a blocking request never changes (see the module docs); a minute covers its
/// whole life in the playlist window.
const BLOCKING_CACHE: &str = "public, max-age=60";
/// Changes every part, and `max-age` counts whole seconds: not cached (see the module docs).
const PLAIN_CACHE: &str = "no-cache";
/// The multivariant playlists and the MPD: as the MPEG-TS playlists.
const MANIFEST_CACHE: &str = "public, max-age=1";

/// 400 with the reason.
pub fn bad_request(refused: Refused) -> Response {
    crate::metrics::ll_request(LlKind::BadRequest);
    error(StatusCode::BAD_REQUEST, refused.0)
}

/// `{video,audio}.m3u8`: rendered now, or once the requested part exists.
pub async fn media_playlist(
    edge: &Edge,
    channel: &LogChannel,
    track: TrackKind,
    request: Request,
    token: Option<&Token>,
) -> Response {
    let blocking = request.msn.is_some();
    crate::metrics::ll_request(if blocking {
        LlKind::BlockingPlaylist
    } else {
        LlKind::Playlist
    });
    // Subscribed before the first render, so a part applied in between still wakes the wait.
    let changes = channel.changes();
    let render = |log: &_| match playlist::render(log, track, &request) {
        Answer::Wait => None,
        answer => Some(answer),
    };
    let answer = match channel.read(render) {
        Some(answer) => answer,
        None => match blocking::wait_for(edge, channel, changes, render).await {
            Ok(answer) => answer,
            Err(unanswered) => return unavailable(unanswered.message()),
        },
    };
    match answer {
        Answer::Playlist(text) => {
            let cache = if blocking {
                BLOCKING_CACHE
            } else {
                PLAIN_CACHE
            };
            text_response(PLAYLIST_TYPE, cache, uris::playlist(text, token))
        }
        Answer::BadRequest(reason) => error(StatusCode::BAD_REQUEST, reason),
        Answer::NotFound | Answer::Wait => not_found(),
    }
}

/// The stream a multivariant playlist lists, and the token its URIs carry.
pub struct Listed<'a> {
    /// The stream.
    pub stream_id: &'a StreamId,
    /// Its playback id (the TS variant's URI names it).
    pub playback_id: &'a PlaybackId,
    /// A signed stream's verified token.
    pub token: Option<&'a Token>,
}

/// `index.m3u8` (`with_ts` false) or `multivariant.m3u8` (with the MPEG-TS variant, when the
/// index lists segments).
pub async fn multivariant(
    edge: &Edge,
    listed: &Listed<'_>,
    channel: &LogChannel,
    with_ts: bool,
) -> Response {
    crate::metrics::ll_request(LlKind::Multivariant);
    let ts = if with_ts {
        match ts_variant(edge, listed.stream_id, listed.playback_id).await {
            Ok(ts) => ts,
            Err(response) => return response,
        }
    } else {
        None
    };
    match channel.read(|log| variants::render(log, ts.as_ref())) {
        Some(text) => text_response(
            PLAYLIST_TYPE,
            MANIFEST_CACHE,
            uris::playlist(text, listed.token),
        ),
        None => not_found(),
    }
}

/// The MPEG-TS rendition as the index lists it: its current generation's media playlist,
/// relative to `/ll/{playback_id}/`, and the bandwidth `/hls/` announces for it.
async fn ts_variant(
    edge: &Edge,
    stream_id: &StreamId,
    playback_id: &PlaybackId,
) -> Result<Option<TsVariant>, Response> {
    match edge.deps.index.load(stream_id).await {
        Ok(Some(state)) if !state.segments.is_empty() => {
            let media = media_playlist_name(state.generation.get());
            Ok(Some(TsVariant {
                uri: format!("../../hls/{playback_id}/{media}"),
                bandwidth: crate::hls::bandwidth(&state),
            }))
        }
        Ok(_) => Ok(None),
        Err(failure) => {
            // Leaving the variant out would make this edge's answer differ from the others'.
            tracing::warn!(%stream_id, error = %failure, "index unavailable");
            Err(unavailable("index unavailable\n"))
        }
    }
}

/// `manifest.mpd`.
pub fn mpd(channel: &LogChannel, token: Option<&Token>) -> Response {
    crate::metrics::ll_request(LlKind::Mpd);
    match channel.read(mpd::render) {
        Some(text) => text_response(MPD_TYPE, MANIFEST_CACHE, uris::mpd(text, token)),
        None => not_found(),
    }
}

fn text_response(content_type: &'static str, cache: &'static str, text: String) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
    ];
    crate::metrics::ll_sent(text.len());
    (headers, text).into_response()
}
