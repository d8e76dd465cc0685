//! Writes a [`View`] of a log as playlist text.

use std::fmt::Write as _;

use ferrocast_base::Epoch;

use super::View;
use crate::cmaf::TrackKind;
use crate::ll::log::{listed_start, target_duration_s};
use crate::ll::{LogSegment, PartLog, SessionInfo, names};
use crate::text::{date_time, round_ms, seconds};

/// One shown segment with its durations as written.
struct Shown<'a> {
    segment: &'a LogSegment,
    /// Parts shown.
    parts: usize,
    /// Each shown part's duration as written, milliseconds.
    part_ms: Vec<u64>,
    /// Their sum: the `EXTINF` of a complete segment.
    total_ms: u64,
    complete: bool,
}

impl<'a> Shown<'a> {
    fn new(segment: &'a LogSegment, parts: usize, complete: bool) -> Self {
        let mut part_ms = Vec::with_capacity(parts);
        let (mut ticks, mut written) = (0u64, 0u64);
        for part in segment.parts.iter().take(parts) {
            ticks = ticks.saturating_add(part.duration.ticks);
            let running = round_ms(ticks, part.duration.timescale);
            part_ms.push(running.saturating_sub(written));
            written = running;
        }
        if complete && let Some(summary) = &segment.complete {
            debug_assert_eq!(summary.duration.ticks, ticks, "parts add up to the segment");
        }
        Self {
            segment,
            parts,
            part_ms,
            total_ms: written,
            complete,
        }
    }
}

/// The playlist text of `view`.
pub(super) fn write(log: &PartLog, track: TrackKind, view: &View<'_>, skip: bool) -> String {
    let session = log.session().copied();
    let target_ms = session.map_or(1_000, |s| target_duration_s(s.target_duration_ms) * 1_000);
    let part_target_ms = session.map_or(0, |s| s.part_target_ms);
    let start = listed_start(view.segments, log.window_ms(), view.last_complete);
    let count = view.segments.len();
    let shown: Vec<Shown<'_>> = view.segments[start..]
        .iter()
        .enumerate()
        .map(|(at, segment)| {
            if start + at + 1 == count {
                Shown::new(segment, view.last_parts, view.last_complete)
            } else {
                Shown::new(segment, segment.parts.len(), true)
            }
        })
        .collect();
    // Media after each shown segment's end, to the end of the playlist.
    let mut after_ms = vec![0u64; shown.len()];
    for at in (0..shown.len().saturating_sub(1)).rev() {
        after_ms[at] = after_ms[at + 1] + shown[at + 1].total_ms;
    }
    let skip_until_ms = target_ms * 6;
    let skipped = if skip {
        after_ms
            .iter()
            .take_while(|&&ms| ms >= skip_until_ms)
            .count()
    } else {
        0
    };

    let mut text = String::with_capacity(256 + 120 * shown.len());
    text.push_str("#EXTM3U\n#EXT-X-VERSION:9\n");
    let _ = writeln!(text, "#EXT-X-TARGETDURATION:{}", target_ms / 1_000);
    let _ = writeln!(
        text,
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={},CAN-SKIP-UNTIL={}",
        seconds(part_target_ms * 3),
        seconds(skip_until_ms)
    );
    let _ = writeln!(
        text,
        "#EXT-X-PART-INF:PART-TARGET={}",
        seconds(part_target_ms)
    );
    let first_msn = shown
        .first()
        .map(|s| s.segment.msn)
        .or(session.map(|s| s.first_msn))
        .unwrap_or_default();
    let _ = writeln!(text, "#EXT-X-MEDIA-SEQUENCE:{first_msn}");
    let _ = writeln!(
        text,
        "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
        log.discontinuities_before(start)
    );
    if skipped > 0 {
        let _ = writeln!(text, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
    }
    let mut map: Option<(Epoch, u32)> = None;
    for (at, entry) in shown.iter().enumerate().skip(skipped) {
        let segment = entry.segment;
        if segment.discontinuity {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let wanted = init_for(log, track, &shown[at..]).or(map);
        if wanted != map
            && let Some((epoch, version)) = wanted
        {
            let uri = names::init(epoch, version, track);
            let _ = writeln!(text, "#EXT-X-MAP:URI=\"{uri}\"");
            map = wanted;
        }
        let _ = writeln!(
            text,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            date_time(segment.program_date_time_ms)
        );
        let has_track = segment.init_version(track).is_some();
        if after_ms[at] < target_ms * 3 {
            write_parts(&mut text, entry, track);
        }
        if entry.complete {
            if !has_track {
                text.push_str("#EXT-X-GAP\n");
            }
            let _ = writeln!(text, "#EXTINF:{},", seconds(entry.total_ms));
            let _ = writeln!(
                text,
                "{}",
                names::segment(segment.epoch, segment.seq, track)
            );
        }
    }
    if !view.ended {
        let newest = session.map(|s| s.epoch);
        let hint = match shown.last() {
            Some(last) if Some(last.segment.epoch) == newest || newest.is_none() => {
                let segment = last.segment;
                let ends_next = session.is_some_and(|session| ends_with_next_frame(last, &session));
                if last.complete || ends_next {
                    Some(names::part(segment.epoch, segment.seq + 1, 0, track))
                } else {
                    let index = u32::try_from(last.parts).unwrap_or(u32::MAX);
                    Some(names::part(segment.epoch, segment.seq, index, track))
                }
            }
            _ => newest.map(|epoch| names::part(epoch, 0, 0, track)),
        };
        if let Some(uri) = hint {
            let _ = writeln!(text, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{uri}\"");
        }
    } else {
        text.push_str("#EXT-X-ENDLIST\n");
    }
    text
}

/// Whether the open segment `last` is expected to end before its next part: its shown parts
/// already reach the segment target within half a part, so the next keyframe (due now, for
/// an encoder whose GOP is the target) cuts it. The preload hint then names the next
/// segment's first part rather than a part that would never be made: a hint must name a
/// part that comes, and Shaka stops on a 404 for one. When the guess is wrong (a longer
/// GOP), the hinted part still comes, one segment cut later (at the latest the ceiling's,
/// ADR 17), and a player waits that much longer once.
fn ends_with_next_frame(last: &Shown<'_>, session: &SessionInfo) -> bool {
    last.parts > 0 && last.total_ms + session.part_target_ms / 2 >= session.target_duration_ms
}

/// The init segment the first of `from` needs for `track`: its own, or (a segment without
/// the track) the next one's, or the newest one.
fn init_for(log: &PartLog, track: TrackKind, from: &[Shown<'_>]) -> Option<(Epoch, u32)> {
    let first = from.first()?.segment;
    if let Some(version) = first.init_version(track) {
        return Some((first.epoch, version));
    }
    let next = from.iter().find_map(|s| {
        let segment = s.segment;
        segment.init_version(track).map(|v| (segment.epoch, v))
    });
    next.or_else(|| {
        let init = log.newest_init(track)?;
        Some((log.session()?.epoch, init.version))
    })
}

fn write_parts(text: &mut String, entry: &Shown<'_>, track: TrackKind) {
    let segment = entry.segment;
    for (part, ms) in segment.parts.iter().zip(&entry.part_ms) {
        let uri = names::part(segment.epoch, segment.seq, part.index, track);
        let _ = write!(text, "#EXT-X-PART:DURATION={},URI=\"{uri}\"", seconds(*ms));
        let present = part.track(track).is_some();
        let independent = match track {
            TrackKind::Video => part.independent,
            TrackKind::Audio => true,
        };
        if present && independent {
            text.push_str(",INDEPENDENT=YES");
        }
        if !present {
            text.push_str(",GAP=YES");
        }
        text.push('\n');
    }
}
