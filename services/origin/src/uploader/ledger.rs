//! Which of a session's CMAF objects were stored, for its recording (ADR 24).
//!
//! A recording's CMAF playlists may only name objects that exist, and the TS listing is what
//! writes a segment's record. So the CMAF lane notes here each object it stored, and the TS
//! listing takes the note for its segment into the record. A segment's object counts only
//! when the init segment it needs was stored too: a player cannot use one without the other.

use std::collections::{BTreeMap, HashSet};

use ferrocast_media::cmaf::TrackKind;
use ferrocast_store::CmafTracks;

/// Segments noted and not yet taken, at most: a TS listing takes every older note, so this
/// only binds a session whose TS segments are all dropped while its CMAF objects are stored.
const MAX_NOTED_SEGMENTS: usize = 64;

/// The stored CMAF objects of one session, by segment.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Init segments stored, as (track, version).
    inits: HashSet<(TrackKind, u32)>,
    /// Segments with a stored object and a stored init, by seq.
    segments: BTreeMap<u64, CmafTracks>,
}

impl Ledger {
    /// Init segment `version` of `track` was stored.
    pub(super) fn init_stored(&mut self, track: TrackKind, version: u32) {
        self.inits.insert((track, version));
    }

    /// `track`'s object of segment `seq`, which needs init `init_version`, was stored.
    pub(super) fn segment_stored(&mut self, seq: u64, track: TrackKind, init_version: u32) {
        if !self.inits.contains(&(track, init_version)) {
            return;
        }
        self.segments
            .entry(seq)
            .or_default()
            .set(track, Some(init_version));
        while self.segments.len() > MAX_NOTED_SEGMENTS {
            self.segments.pop_first();
        }
    }

    /// What was stored of segment `seq`; forgets it and every older segment.
    pub(super) fn take(&mut self, seq: u64) -> CmafTracks {
        let newer = self.segments.split_off(&(seq.saturating_add(1)));
        let taken = std::mem::replace(&mut self.segments, newer);
        taken.get(&seq).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_counts_only_with_its_init() {
        let mut ledger = Ledger::default();
        ledger.init_stored(TrackKind::Video, 0);
        ledger.segment_stored(3, TrackKind::Video, 0);
        ledger.segment_stored(3, TrackKind::Audio, 0);
        let tracks = ledger.take(3);
        assert_eq!((tracks.video, tracks.audio), (Some(0), None));
        assert_eq!(ledger.take(3), CmafTracks::default(), "taken once");
    }

    #[test]
    fn taking_forgets_older_segments_and_the_notes_are_capped() {
        let mut ledger = Ledger::default();
        ledger.init_stored(TrackKind::Audio, 1);
        for seq in 0..200 {
            ledger.segment_stored(seq, TrackKind::Audio, 1);
        }
        assert_eq!(ledger.segments.len(), MAX_NOTED_SEGMENTS);
        assert_eq!(ledger.take(150).audio, Some(1));
        assert_eq!(ledger.segments.len(), 49);
        assert_eq!(ledger.take(10), CmafTracks::default());
    }
}
