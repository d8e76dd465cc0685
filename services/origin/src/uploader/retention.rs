//! How many segments the index keeps, so that segments listed late stay listed long enough
//! to be seen and played.
//!
//! In steady state the index keeps `hls.retain` segments: the `hls.window` a playlist shows
//! and as many older ones, hidden, whose objects players holding an older playlist may still
//! fetch. After an outage of the index or the object store, the segments that waited are
//! listed in a burst, each already late by the outage; edges show each for longer
//! ([`shown_from`]), so the index must retain every segment from the oldest one still shown,
//! plus the hidden ones behind it. Bounded by [`MAX_RETAIN`].

use std::collections::VecDeque;

use ferrocast_base::Msn;
use ferrocast_media::hls::shown_from;

/// The most segments kept listed, whatever the lateness (about 33 minutes of 2 s segments).
pub const MAX_RETAIN: usize = 1000;

/// One session's recently listed segments, as edges judge how long to show them.
#[derive(Debug)]
pub struct Retention {
    base: usize,
    window: usize,
    hidden: usize,
    keep_ms: i64,
    /// msn, and (listed at, media end) in Unix ms, in msn order.
    msns: VecDeque<Msn>,
    listed: VecDeque<(i64, i64)>,
}

impl Retention {
    /// Retains at least `base` segments; a playlist shows `window` of them, each for at least
    /// `keep_ms` after it was listed.
    pub fn new(base: usize, window: usize, keep_ms: i64) -> Self {
        Self {
            base,
            window,
            hidden: base.saturating_sub(window),
            keep_ms,
            msns: VecDeque::new(),
            listed: VecDeque::new(),
        }
    }

    /// How many segments the index must retain when `msn` is listed at `listed_at_ms` (Unix
    /// ms), its media having ended at `media_end_ms`. Called again for the same msn (a retried
    /// append) it replaces the earlier listing time.
    pub fn retain_for(&mut self, msn: Msn, media_end_ms: i64, listed_at_ms: i64) -> usize {
        if self.msns.back() == Some(&msn) {
            self.msns.pop_back();
            self.listed.pop_back();
        }
        self.msns.push_back(msn);
        self.listed.push_back((listed_at_ms, media_end_ms));
        if self.msns.len() > MAX_RETAIN {
            self.msns.pop_front();
            self.listed.pop_front();
        }
        let listed = self.listed.make_contiguous();
        let first = shown_from(listed, self.window, listed_at_ms, self.keep_ms);
        let oldest_shown = self.msns.get(first).copied().unwrap_or(msn);
        // What is neither shown nor within a window of the newest (which a later, late segment
        // could still keep shown) is no longer needed.
        let prune = first.min(self.msns.len().saturating_sub(self.window));
        self.msns.drain(..prune);
        self.listed.drain(..prune);
        let behind = msn.get().saturating_sub(oldest_shown.get());
        let span = usize::try_from(behind + 1).unwrap_or(MAX_RETAIN);
        (span + self.hidden)
            .max(self.base)
            .min(MAX_RETAIN.max(self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEGMENT_MS: i64 = 2_000;
    const KEEP_MS: i64 = 6 * SEGMENT_MS;

    #[test]
    fn steady_state_keeps_the_base() {
        let mut retention = Retention::new(12, 6, KEEP_MS);
        let retained: Vec<usize> = (0..40u64)
            .map(|msn| {
                let end = msn as i64 * SEGMENT_MS;
                retention.retain_for(Msn(msn), end, end + 100)
            })
            .collect();
        assert!(
            retained.iter().all(|&r| (12..=13).contains(&r)),
            "{retained:?}"
        );
    }

    #[test]
    fn a_burst_after_an_outage_stays_retained_until_played_in_real_time() {
        let mut retention = Retention::new(12, 6, KEEP_MS);
        // 30 segments (60 s) waited; all are listed when the outage ends.
        let resume = 30 * SEGMENT_MS;
        let mut last = 0;
        for msn in 0..30u64 {
            last = retention.retain_for(Msn(msn), (msn as i64 + 1) * SEGMENT_MS, resume);
        }
        assert_eq!(
            last,
            30 + 6,
            "every late segment, and the hidden ones behind"
        );
        // A player that stalled plays burst segment k at about resume + 2k: still retained.
        for step in 1..30u64 {
            let now = resume + step as i64 * SEGMENT_MS;
            let msn = 29 + step;
            let retained = retention.retain_for(Msn(msn), now - 100, now) as u64;
            assert!(
                (msn + 1).saturating_sub(retained) <= step,
                "burst segment {step} retained at msn {msn}: {retained}"
            );
        }
        // Long after, on time again: back to the base.
        let mut retained = 0;
        for msn in 59..200u64 {
            let now = resume + (msn as i64 - 29) * SEGMENT_MS;
            retained = retention.retain_for(Msn(msn), now - 100, now);
        }
        assert!((12..=13).contains(&retained), "{retained}");
    }

    #[test]
    fn a_retried_append_replaces_its_listing_time() {
        let mut retention = Retention::new(12, 6, KEEP_MS);
        retention.retain_for(Msn(0), 0, 100);
        retention.retain_for(Msn(0), 0, 60_000);
        assert_eq!(retention.msns.len(), 1);
    }

    #[test]
    fn bounded() {
        let mut retention = Retention::new(12, 6, KEEP_MS);
        for msn in 0..5_000u64 {
            assert!(retention.retain_for(Msn(msn), 0, 1_000_000_000) <= MAX_RETAIN);
        }
        assert!(retention.msns.len() <= MAX_RETAIN);
    }
}
