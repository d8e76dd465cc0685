//! An LL-HLS media playlist conformance checker (RFC 8216bis), for tests that fetch
//! ferrocast's playlists the way a player does: [`check`] reads one playlist and checks it
//! on its own; [`Sequence`] checks a series of reloads of the same playlist.
//!
//! One playlist: `#EXTM3U` first; one `EXT-X-TARGETDURATION`, `EXT-X-PART-INF` and
//! `EXT-X-MEDIA-SEQUENCE`; every `EXT-X-PART` lasts at most `PART-TARGET` (§4.4.4.9);
//! `PART-HOLD-BACK` is at least twice `PART-TARGET` (§4.4.3.8); a segment's listed parts
//! add up to its `EXTINF` within 1 ms per part; every `EXTINF` rounded to the nearest second
//! is at most `EXT-X-TARGETDURATION` (§4.4.3.1); a live playlist has an
//! `EXT-X-PRELOAD-HINT` naming the part after the last one listed (by ferrocast's names,
//! `{epoch}/{seq}.{part}.{track}.m4s`: the next part of the open segment, or the first of
//! the next segment), and an ended one has none.
//!
//! A series: the media sequence, the discontinuity sequence and the newest listed part never
//! go back, `EXT-X-TARGETDURATION` never changes (RFC 8216 §6.2.1), and a segment listed
//! complete twice has the same URI and `EXTINF` both times.

/// Microseconds per millisecond: durations are kept in microseconds, so the 1 ms checks
/// compare exactly what was written.
const US_PER_MS: u64 = 1_000;

/// One segment as a playlist lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFacts {
    /// Its media sequence number (from `EXT-X-MEDIA-SEQUENCE`, skipped segments and position).
    pub msn: u64,
    /// Its URI; `None` while it is listed only by its parts (open).
    pub uri: Option<String>,
    /// Its `EXTINF`, microseconds; `None` while open.
    pub duration_us: Option<u64>,
    /// Its listed parts, in order.
    pub parts: Vec<PartFacts>,
    /// Preceded by `EXT-X-DISCONTINUITY`.
    pub discontinuity: bool,
}

/// One `EXT-X-PART`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFacts {
    /// Its URI.
    pub uri: String,
    /// Its duration, microseconds.
    pub duration_us: u64,
    /// `INDEPENDENT=YES`.
    pub independent: bool,
    /// `GAP=YES`.
    pub gap: bool,
}

/// What one playlist says, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `EXT-X-TARGETDURATION`, seconds.
    pub target_duration_s: u64,
    /// `PART-TARGET`, microseconds.
    pub part_target_us: u64,
    /// `PART-HOLD-BACK`, microseconds.
    pub part_hold_back_us: u64,
    /// `CAN-SKIP-UNTIL`, microseconds, if offered.
    pub can_skip_until_us: Option<u64>,
    /// `CAN-BLOCK-RELOAD=YES`.
    pub can_block_reload: bool,
    /// `EXT-X-MEDIA-SEQUENCE`.
    pub media_sequence: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE` (0 when absent).
    pub discontinuity_sequence: u64,
    /// `EXT-X-SKIP:SKIPPED-SEGMENTS` (0 when absent).
    pub skipped_segments: u64,
    /// The listed segments (after any skipped ones), oldest first.
    pub segments: Vec<SegmentFacts>,
    /// `EXT-X-PRELOAD-HINT` URI.
    pub preload_hint: Option<String>,
    /// `EXT-X-ENDLIST`.
    pub ended: bool,
}

impl Facts {
    /// The newest listed position: (msn, parts listed) of an open last segment, or (msn,
    /// `u64::MAX`) of a complete one. Reloads never make it go back.
    pub fn newest_position(&self) -> Option<(u64, u64)> {
        let last = self.segments.last()?;
        let parts = if last.uri.is_some() {
            u64::MAX
        } else {
            last.parts.len() as u64
        };
        Some((last.msn, parts))
    }
}

/// Checks one playlist; the error says which rule failed, and where.
pub fn check(playlist: &str) -> Result<Facts, String> {
    let facts = parse(playlist)?;
    let part_target = facts.part_target_us;
    if facts.part_hold_back_us < 2 * part_target {
        return Err(format!(
            "PART-HOLD-BACK {} us is under twice PART-TARGET {part_target} us",
            facts.part_hold_back_us
        ));
    }
    for segment in &facts.segments {
        for part in &segment.parts {
            if part.duration_us > part_target {
                return Err(format!("part {} lasts over PART-TARGET", part.uri));
            }
        }
        let Some(extinf) = segment.duration_us else {
            continue;
        };
        let rounded_s = (extinf + 500_000) / 1_000_000;
        if rounded_s > facts.target_duration_s {
            return Err(format!(
                "segment {} has EXTINF over the target",
                segment.msn
            ));
        }
        if !segment.parts.is_empty() {
            let sum: u64 = segment.parts.iter().map(|p| p.duration_us).sum();
            let tolerance = US_PER_MS * segment.parts.len() as u64;
            if sum.abs_diff(extinf) > tolerance {
                return Err(format!(
                    "segment {}: parts add up to {sum} us, EXTINF is {extinf} us",
                    segment.msn
                ));
            }
        }
    }
    check_hint(&facts)?;
    Ok(facts)
}

/// A ferrocast part name: (epoch, seq, index, track).
fn part_name(uri: &str) -> Option<(u64, u64, u64, &str)> {
    let mut path = uri.rsplit('/');
    let file = path.next()?.strip_suffix(".m4s")?;
    let epoch = path.next()?.parse().ok()?;
    let mut fields = file.split('.');
    let seq = fields.next()?.parse().ok()?;
    let index = fields.next()?.parse().ok()?;
    let track = fields.next()?;
    fields
        .next()
        .is_none()
        .then_some((epoch, seq, index, track))
}

/// A ferrocast segment name: (epoch, seq, track).
fn segment_name(uri: &str) -> Option<(u64, u64, &str)> {
    let mut path = uri.rsplit('/');
    let file = path.next()?.strip_suffix(".m4s")?;
    let epoch = path.next()?.parse().ok()?;
    let (seq, track) = file.split_once('.')?;
    Some((epoch, seq.parse().ok()?, track))
}

fn check_hint(facts: &Facts) -> Result<(), String> {
    let hint = match (&facts.preload_hint, facts.ended) {
        (Some(_), true) => return Err("an ended playlist has a preload hint".into()),
        (None, true) => return Ok(()),
        (None, false) => return Err("a live playlist has no preload hint".into()),
        (Some(hint), false) => hint,
    };
    let (epoch, seq, index, _) =
        part_name(hint).ok_or_else(|| format!("preload hint {hint} is not a part name"))?;
    let Some(last) = facts.segments.last() else {
        return Ok(());
    };
    let expected = match (&last.uri, last.parts.last()) {
        (Some(uri), _) => segment_name(uri).map(|(e, s, _)| (e, s + 1, 0)),
        (None, Some(part)) => part_name(&part.uri).map(|(e, s, i, _)| (e, s, i + 1)),
        (None, None) => None,
    };
    let Some(expected) = expected else {
        return Err(format!("cannot read the last listed name before {hint}"));
    };
    let new_session = epoch != expected.0 && seq == 0 && index == 0 && last.uri.is_some();
    // An open segment about to end hints the next segment's first part.
    let next_segment = last.uri.is_none() && (epoch, seq, index) == (expected.0, expected.1 + 1, 0);
    if (epoch, seq, index) != expected && !new_session && !next_segment {
        return Err(format!(
            "preload hint {hint} is not the part after the last listed one {expected:?}"
        ));
    }
    Ok(())
}

/// Checks a series of reloads of one playlist.
#[derive(Debug, Default)]
pub struct Sequence {
    last: Option<Facts>,
    reloads: usize,
}

impl Sequence {
    /// No reload yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next reload on its own and against the one before.
    pub fn push(&mut self, playlist: &str) -> Result<Facts, String> {
        let facts = check(playlist).map_err(|e| format!("reload {}: {e}", self.reloads))?;
        if let Some(previous) = &self.last {
            compare(previous, &facts).map_err(|e| format!("reload {}: {e}", self.reloads))?;
        }
        self.reloads += 1;
        self.last = Some(facts.clone());
        Ok(facts)
    }

    /// Reloads checked so far.
    pub fn reloads(&self) -> usize {
        self.reloads
    }
}

fn compare(previous: &Facts, next: &Facts) -> Result<(), String> {
    if next.target_duration_s != previous.target_duration_s {
        return Err(format!(
            "EXT-X-TARGETDURATION changed from {} to {}",
            previous.target_duration_s, next.target_duration_s
        ));
    }
    if next.media_sequence < previous.media_sequence {
        return Err("the media sequence went back".into());
    }
    if next.discontinuity_sequence < previous.discontinuity_sequence {
        return Err("the discontinuity sequence went back".into());
    }
    if next.newest_position() < previous.newest_position() {
        return Err(format!(
            "the newest part went back: {:?} after {:?}",
            next.newest_position(),
            previous.newest_position()
        ));
    }
    for segment in next.segments.iter().filter(|s| s.uri.is_some()) {
        let before = previous
            .segments
            .iter()
            .find(|s| s.msn == segment.msn && s.uri.is_some());
        if let Some(before) = before
            && (before.uri != segment.uri || before.duration_us != segment.duration_us)
        {
            return Err(format!("segment {} changed", segment.msn));
        }
    }
    Ok(())
}

mod parse;
use parse::parse;

#[cfg(test)]
mod tests;
