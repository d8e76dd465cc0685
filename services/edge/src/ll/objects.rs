//! Init segments, parts and segments under `/ll/{playback_id}/{epoch}/`.
//!
//! - From the part log when it holds them (a segment is its parts concatenated).
//! - A complete segment or an init segment the log no longer holds (an edge that restarted,
//!   a segment past the window, a CDN miss on another edge) comes from object storage
//!   through the read-through cache: the origin stored it before it listed it (rule 1).
//! - A part never goes to storage: one the log does not hold is 404, except the part the
//!   playlist's preload hint names, which is waited for like a blocking reload (RFC 8216bis
//!   §6.2.6: a hinted resource is held until it exists), so a player that fetches hints gets
//!   it the moment the origin sends it.
//!
//! Every object's name holds its epoch and is never reused, so it is cached as immutable.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use ferrocast_base::{Epoch, StreamId};
use ferrocast_live::LogChannel;
use ferrocast_media::cmaf::TrackKind;
use ferrocast_media::ll::PartLog;
use ferrocast_media::ll::names::LlName;
use ferrocast_store::StoreError;

use super::blocking;
use ferrocast_store::SessionObject;

use super::stored;
use crate::metrics::LlKind;
use crate::reply::{error, not_found, unavailable};
use crate::state::Edge;

/// Object names hold their epoch and are never reused (ADR 16 decision 5).
const OBJECT_CACHE: &str = "public, max-age=31536000, immutable";
/// The content type of an init segment, live or recorded.
pub(crate) const INIT_TYPE: &str = "video/mp4";

/// Serves an init segment, a segment or a part; `channel` is `None` when the stream is not
/// live (storage may still hold its complete segments).
pub async fn serve(
    edge: &Edge,
    stream_id: &StreamId,
    channel: Option<&LogChannel>,
    name: LlName,
    request: &HeaderMap,
) -> Response {
    match name {
        LlName::Init {
            epoch,
            version,
            track,
        } => {
            crate::metrics::ll_request(LlKind::Init);
            let held = channel.and_then(|channel| {
                channel.read(|log| {
                    log.init(epoch, track, version)
                        .map(|init| init.data.clone())
                })
            });
            let object = SessionObject::CmafInit { version, track };
            let stored = (epoch, object);
            held_or_stored(edge, stream_id, held, stored, INIT_TYPE, request).await
        }
        LlName::Segment { epoch, seq, track } => {
            crate::metrics::ll_request(LlKind::Segment);
            let held = channel
                .and_then(|channel| channel.read(|log| log.segment_bytes(epoch, seq, track)));
            let stored = (epoch, SessionObject::CmafSegment { seq, track });
            held_or_stored(edge, stream_id, held, stored, media_type(track), request).await
        }
        LlName::Part {
            epoch,
            seq,
            index,
            track,
        } => {
            crate::metrics::ll_request(LlKind::Part);
            let Some(channel) = channel else {
                return not_found();
            };
            part(
                edge,
                channel,
                PartName {
                    epoch,
                    seq,
                    index,
                    track,
                },
                request,
            )
            .await
        }
        LlName::LlMultivariant | LlName::Multivariant | LlName::Mpd | LlName::Playlist(_) => {
            not_found()
        }
    }
}

/// A part's name, as the playlist gives it.
#[derive(Clone, Copy)]
struct PartName {
    epoch: Epoch,
    seq: u64,
    index: u32,
    track: TrackKind,
}

async fn part(edge: &Edge, channel: &LogChannel, name: PartName, request: &HeaderMap) -> Response {
    let PartName {
        epoch,
        seq,
        index,
        track,
    } = name;
    let changes = channel.changes();
    let lookup = |log: &PartLog| -> Option<Option<Bytes>> {
        if let Some(data) = log.part_bytes(epoch, seq, index, track) {
            return Some(Some(data));
        }
        // Still coming: keep waiting. Anything else is settled: it will never come.
        (!is_pending(log, epoch, seq, index, track)).then_some(None)
    };
    let found = match channel.read(lookup) {
        Some(found) => found,
        None => match blocking::wait_for(edge, channel, changes, lookup).await {
            Ok(found) => found,
            Err(unanswered) => return unavailable(unanswered.message()),
        },
    };
    match found {
        Some(data) => object_response(request, media_type(track), data),
        None => not_found(),
    }
}

/// Whether `track`'s part `index` of segment `seq` of `epoch` may still arrive: it is a
/// part a preload hint may name now (the next part of the open segment, or the first part
/// of the segment after the newest one), or the newest part's other track has
/// arrived and this track's half of it is on its way. Anything further ahead is not
/// waited for.
fn is_pending(log: &PartLog, epoch: Epoch, seq: u64, index: u32, track: TrackKind) -> bool {
    let Some(newest) = log.segments().last() else {
        return false;
    };
    if newest.epoch != epoch || log.ended() {
        return false;
    }
    if newest.complete.is_some() {
        return newest.seq + 1 == seq && index == 0;
    }
    // The playlist names the next segment's first part while this one is about to end
    // (`ll::playlist`'s preload hint).
    if newest.seq + 1 == seq {
        return index == 0;
    }
    if newest.seq != seq {
        return false;
    }
    match newest.parts.last() {
        None => index == 0,
        Some(last) if last.index == index => {
            let held = match track {
                TrackKind::Video => &last.video,
                TrackKind::Audio => &last.audio,
            };
            held.is_none()
        }
        Some(last) => last.index + 1 == index,
    }
}

async fn held_or_stored(
    edge: &Edge,
    stream_id: &StreamId,
    held: Option<Bytes>,
    (epoch, object): (Epoch, SessionObject),
    content_type: &'static str,
    request: &HeaderMap,
) -> Response {
    if let Some(data) = held {
        return object_response(request, content_type, data);
    }
    match stored::fetch(edge, stream_id, epoch, object).await {
        Ok(data) => object_response(request, content_type, data),
        Err(StoreError::NotFound) => not_found(),
        Err(failure) => {
            tracing::warn!(%stream_id, ?object, error = %failure, "cmaf object read failed");
            error(StatusCode::BAD_GATEWAY, "object store unavailable\n")
        }
    }
}

/// `video/mp4` or `audio/mp4` for a track's parts and segments.
pub(crate) fn media_type(track: TrackKind) -> &'static str {
    match track {
        TrackKind::Video => "video/mp4",
        TrackKind::Audio => "audio/mp4",
    }
}

/// An immutable object, whole or the byte range `request` asks for.
fn object_response(request: &HeaderMap, content_type: &'static str, data: Bytes) -> Response {
    let (response, sent) = crate::object::respond(request, data, content_type, OBJECT_CACHE);
    crate::metrics::ll_sent(sent);
    response
}
