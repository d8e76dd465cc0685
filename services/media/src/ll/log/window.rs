//! The playlist window and retention of a [`PartLog`]: which segments a playlist lists, and
//! when a segment may leave the log (RFC 8216 §6.2.2, and the byte cap).

use ferrocast_base::Epoch;

use super::{LogSegment, PartLog};
use crate::cmaf::{Init, TrackKind};
use crate::ll::{LogConfig, SessionInfo};

/// `EXT-X-TARGETDURATION` of a session: the MPEG-TS playlists' rule, so both renditions
/// announce the same target.
pub(crate) use crate::hls::target_duration_s;

/// The playlist window, milliseconds: the configured one, and never under three target
/// durations (RFC 8216bis §4.4.3.8 asks a live playlist to hold at least that much).
pub(crate) fn window_ms(config: &LogConfig, session: Option<&SessionInfo>) -> u64 {
    config.window_ms.max(target_ms(session).saturating_mul(3))
}

/// The session's `EXT-X-TARGETDURATION` in milliseconds (0 without a session). Saturating:
/// the target comes from the relay, and an absurd one must not panic.
fn target_ms(session: Option<&SessionInfo>) -> u64 {
    session.map_or(0, |s| {
        target_duration_s(s.target_duration_ms).saturating_mul(1_000)
    })
}

/// Index of the first segment a playlist of `segments` lists: the newest complete ones
/// until they reach `window_ms` (the one that reaches it included), never across an msn gap.
/// The last segment's duration counts only with `count_last`: a playlist rendered up to a
/// part of the last segment treats it as open even when the log holds its end, so an edge
/// that already has the end renders the same window as one that does not.
pub(crate) fn listed_start(segments: &[LogSegment], window_ms: u64, count_last: bool) -> usize {
    let after_gap = segments
        .windows(2)
        .rposition(|pair| pair[1].msn != pair[0].msn.next())
        .map_or(0, |at| at + 1);
    let mut listed_ms = 0u64;
    let mut start = segments.len();
    for (at, segment) in segments.iter().enumerate().rev() {
        if listed_ms >= window_ms {
            break;
        }
        start = at;
        let counted = segment.complete.is_some() && (count_last || at + 1 < segments.len());
        if counted {
            listed_ms = listed_ms.saturating_add(segment.duration().as_millis());
        }
    }
    start.max(after_gap)
}

impl PartLog {
    /// Drops what the rules let go: segments past the window and the §6.2.2 margin, then the
    /// oldest segments while over the byte cap (never the newest), then inits and sessions
    /// no retained segment needs.
    pub(super) fn retain(&mut self) {
        let window_ms = self.window_ms();
        let target_ms = target_ms(self.session());
        let segments = &self.state.segments;
        let listed = listed_start(segments, window_ms, true);
        // A segment leaves the playlist once `window_ms` of media follows it, and then stays
        // for its own duration plus the playlist's (at most the window, a segment that
        // reaches past it, and the open one: two target durations).
        let mut after_ms = 0u64;
        let mut drop = 0;
        for (at, segment) in segments.iter().enumerate().rev() {
            let duration_ms = segment.duration().as_millis();
            let margin_ms = window_ms
                .saturating_mul(2)
                .saturating_add(duration_ms)
                .saturating_add(target_ms.saturating_mul(2));
            if at < listed && after_ms >= margin_ms {
                drop = at + 1;
                break;
            }
            if segment.complete.is_some() {
                after_ms = after_ms.saturating_add(duration_ms);
            }
        }
        let mut bytes = self.bytes();
        let held = self.state.segments.len();
        while drop + 1 < held && bytes > self.config.max_bytes {
            bytes -= self.state.segments[drop].bytes();
            drop += 1;
        }
        self.drop_oldest(drop);
        self.prune_inits_and_sessions();
    }

    /// Drops the `count` oldest segments, counting their discontinuities.
    fn drop_oldest(&mut self, count: usize) {
        let gone = self.state.segments.drain(..count);
        let discontinuities = gone.filter(|s| s.discontinuity).count();
        self.state.gone_discontinuities += discontinuities as u64;
    }

    fn prune_inits_and_sessions(&mut self) {
        let state = &mut self.state;
        let newest = state.sessions.last().map(|s| s.epoch);
        let segments = &state.segments;
        let newest_version = |inits: &[(Epoch, Init)], track: TrackKind| {
            inits
                .iter()
                .filter(|(e, init)| Some(*e) == newest && init.track == track)
                .map(|(_, init)| init.version)
                .max()
        };
        let newest_video = newest_version(&state.inits, TrackKind::Video);
        let newest_audio = newest_version(&state.inits, TrackKind::Audio);
        state.inits.retain(|(epoch, init)| {
            let newest_of_track = match init.track {
                TrackKind::Video => newest_video,
                TrackKind::Audio => newest_audio,
            };
            let pending = Some(*epoch) == newest && Some(init.version) == newest_of_track;
            pending
                || segments
                    .iter()
                    .any(|s| s.epoch == *epoch && s.init_version(init.track) == Some(init.version))
        });
        state.sessions.retain(|session| {
            Some(session.epoch) == newest || segments.iter().any(|s| s.epoch == session.epoch)
        });
    }
}
