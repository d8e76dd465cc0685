//! LL-HLS media playlists of one track rendered from a [`PartLog`] (RFC 8216bis): parts,
//! preload hints, server control, blocking requests and delta updates.
//!
//! - `EXT-X-TARGETDURATION` is the session's segment target rounded up to whole seconds (the
//!   MPEG-TS playlists' rule) and never changes; `EXT-X-PART-INF:PART-TARGET` is the
//!   session's part target.
//! - `EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3×part target,
//!   CAN-SKIP-UNTIL=6×target duration` (§4.4.3.8 asks PART-HOLD-BACK ≥ 2×PART-TARGET, and
//!   three keeps a player two parts behind the live edge, §6.2.5.1 asks CAN-SKIP-UNTIL ≥
//!   six target durations).
//! - Parts are listed for the segments that end within three target durations of the
//!   playlist's end (§4.4.4.9); older segments are listed as whole segments only.
//! - Durations are written in milliseconds (three decimals), each part's as the difference
//!   of its segment's rounded running sum, so a segment's parts add up to its `EXTINF` as
//!   written and each differs from its exact duration by under a millisecond.
//! - A blocking request is answered **up to exactly the requested part** plus the preload
//!   hint of the next one, so two edges that hold that part answer the same bytes: the window
//!   is computed as if the log ended there. A part at or past the part count of a complete
//!   segment is part 0 of the next one (§6.2.5.2).
//! - The audio playlist lists one `EXT-X-PART` per part index of the segment, so its parts
//!   add up to the segment like the video playlist's (a part without audio is `GAP=YES`).
//! - A delta update (`_HLS_skip=YES`) replaces the segments that end more than
//!   CAN-SKIP-UNTIL before the playlist's end with `EXT-X-SKIP` (§4.4.5.2).

mod lines;

use ferrocast_base::Msn;

use super::{LogSegment, PartLog};
use crate::cmaf::TrackKind;

/// The query of a playlist request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    /// `_HLS_msn`: block until this segment (with `part`, this part) exists.
    pub msn: Option<Msn>,
    /// `_HLS_part`: only with `msn`.
    pub part: Option<u32>,
    /// `_HLS_skip=YES`: a delta update.
    pub skip: bool,
}

/// How a playlist request is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The playlist.
    Playlist(String),
    /// The requested part does not exist yet: wait for the log to change and ask again.
    Wait,
    /// Not a valid request (`_HLS_part` without `_HLS_msn`, or an msn more than two
    /// segments ahead): 400 with this reason.
    BadRequest(&'static str),
    /// No such playlist (no session, no such track, or no part yet).
    NotFound,
}

/// What a playlist shows: a prefix of the log's segments, the last one possibly shown with
/// only some of its parts.
#[derive(Debug, Clone, Copy)]
struct View<'a> {
    segments: &'a [LogSegment],
    /// Parts shown of the last segment.
    last_parts: usize,
    /// The last segment is shown complete (`EXTINF`), else as an open one.
    last_complete: bool,
    /// `EXT-X-ENDLIST`, and no preload hint.
    ended: bool,
}

/// Renders `track`'s media playlist for `request`.
pub fn render(log: &PartLog, track: TrackKind, request: &Request) -> Answer {
    let Some(session) = log.session() else {
        return Answer::NotFound;
    };
    if !has_track(log, track) {
        return Answer::NotFound;
    }
    if request.part.is_some() && request.msn.is_none() {
        return Answer::BadRequest("_HLS_part without _HLS_msn");
    }
    // A playlist without a part would tell a player the stream is live and has nothing: some
    // (hls.js) then wait a whole target before asking again. Until the first part, a plain
    // request is 404, as for a stream not live yet; a blocking one waits for its part.
    if request.msn.is_none() && log.segments().is_empty() {
        return Answer::NotFound;
    }
    if let Some(msn) = request.msn {
        let limit = log
            .segments()
            .last()
            .map_or(session.first_msn.get().saturating_add(1), |last| {
                last.msn.get().saturating_add(2)
            });
        if msn.get() > limit {
            return Answer::BadRequest("_HLS_msn more than two segments ahead");
        }
    }
    match view(log, track, request) {
        Some(view) => Answer::Playlist(lines::write(log, track, &view, request.skip)),
        None => Answer::Wait,
    }
}

/// Whether the log holds `track`: an init segment of it, in the newest session or in one of
/// its segments.
fn has_track(log: &PartLog, track: TrackKind) -> bool {
    log.newest_init(track).is_some()
        || log
            .segments()
            .iter()
            .any(|s| s.init_version(track).is_some())
}

/// What `request` shows, or `None` while the part it waits for does not exist.
fn view<'a>(log: &'a PartLog, track: TrackKind, request: &Request) -> Option<View<'a>> {
    let full = full_view(log, track);
    let Some(mut msn) = request.msn else {
        return Some(full);
    };
    if log.ended() {
        return Some(full);
    }
    let mut part = request.part;
    if let (Some(index), Some(segment)) = (part, log.by_msn(msn))
        && segment.complete.is_some()
        && usize::try_from(index).unwrap_or(usize::MAX) >= segment.parts.len()
    {
        msn = msn.next();
        part = Some(0);
    }
    let segments = log.segments();
    let (first, last) = (segments.first()?, segments.last()?);
    if msn < first.msn {
        // Older than the log: the playlist as it is now.
        return Some(full);
    }
    let Some(at) = segments.iter().position(|s| s.msn == msn) else {
        // In the future, or inside a gap the log cannot list across.
        return (msn < last.msn).then_some(full);
    };
    let segment = &segments[at];
    let shown = &segments[..=at];
    match part {
        None => segment.complete.is_some().then_some(View {
            segments: shown,
            last_parts: segment.parts.len(),
            last_complete: true,
            ended: false,
        }),
        Some(index) => {
            let index = usize::try_from(index).unwrap_or(usize::MAX);
            (index < segment.settled_parts(track)).then_some(View {
                segments: shown,
                last_parts: index + 1,
                last_complete: false,
                ended: false,
            })
        }
    }
}

/// Everything the log holds that is settled for `track`.
fn full_view(log: &PartLog, track: TrackKind) -> View<'_> {
    let segments = log.segments();
    let ended = log.ended();
    let Some(last) = segments.last() else {
        return View {
            segments,
            last_parts: 0,
            last_complete: true,
            ended,
        };
    };
    if last.complete.is_some() {
        return View {
            segments,
            last_parts: last.parts.len(),
            last_complete: true,
            ended,
        };
    }
    let settled = last.settled_parts(track);
    if settled > 0 {
        return View {
            segments,
            last_parts: settled,
            last_complete: false,
            ended,
        };
    }
    // Nothing of the open segment is settled for this track yet: show the ones before.
    let before = &segments[..segments.len() - 1];
    View {
        segments: before,
        last_parts: before.last().map_or(0, |s| s.parts.len()),
        last_complete: true,
        ended,
    }
}

#[cfg(test)]
mod tests;
