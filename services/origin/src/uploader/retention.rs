//! How many segments the index keeps, so that segments listed late stay listed long enough
//! to be seen and played.
//!
//! In steady state the index keeps `hls.retain` segments: the `hls.window` a playlist shows
//! and as many older ones, hidden, whose objects players holding an older playlist may still
//! fetch. After an outage of the index or the object store, the segments that waited are
//! listed in a burst, each already late by the outage; edges show each until
//! [`listed_until_ms`] (its keep plus its lateness), so the index must retain every segment
//! from the oldest one still shown, plus the hidden ones behind it. Bounded by [`MAX_RETAIN`].

use std::collections::VecDeque;

use ferrocast_media::hls::listed_until_ms;

/// The most segments kept listed, whatever the lateness (about 33 minutes of 2 s segments).
pub const MAX_RETAIN: usize = 1000;

/// One session's recently listed segments and until when each is shown.
#[derive(Debug)]
pub struct Retention {
    base: usize,
    hidden: usize,
    keep_ms: i64,
    /// (msn, Unix ms until which edges show it), in msn order.
    shown: VecDeque<(u64, i64)>,
}

impl Retention {
    /// Retains at least `base` segments; a playlist shows `window` of them, each for at least
    /// `keep_ms` after it was listed.
    pub fn new(base: usize, window: usize, keep_ms: i64) -> Self {
        Self {
            base,
            hidden: base.saturating_sub(window),
            keep_ms,
            shown: VecDeque::new(),
        }
    }

    /// How many segments the index must retain when `msn` is listed at `listed_at_ms` (Unix
    /// ms), its media having ended at `media_end_ms`. Called again for the same msn (a retried
    /// append) it replaces the earlier listing time.
    pub fn retain_for(&mut self, msn: u64, media_end_ms: i64, listed_at_ms: i64) -> usize {
        if self.shown.back().is_some_and(|&(newest, _)| newest == msn) {
            self.shown.pop_back();
        }
        let until = listed_until_ms(listed_at_ms, media_end_ms, self.keep_ms);
        self.shown.push_back((msn, until));
        while self.shown.len() > MAX_RETAIN
            || self
                .shown
                .front()
                .is_some_and(|&(_, until)| until <= listed_at_ms)
        {
            self.shown.pop_front();
        }
        let oldest = self.shown.front().map_or(msn, |&(oldest, _)| oldest);
        let span = usize::try_from(msn.saturating_sub(oldest) + 1).unwrap_or(MAX_RETAIN);
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
                retention.retain_for(msn, end, end + 100)
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
            last = retention.retain_for(msn, (msn as i64 + 1) * SEGMENT_MS, resume);
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
            let retained = retention.retain_for(msn, now - 100, now) as u64;
            assert!(
                (msn + 1).saturating_sub(retained) <= step,
                "burst segment {step} retained at msn {msn}: {retained}"
            );
        }
        let later = resume + 200 * SEGMENT_MS;
        assert_eq!(retention.retain_for(300, later - 100, later), 12);
    }

    #[test]
    fn a_retried_append_replaces_its_listing_time() {
        let mut retention = Retention::new(12, 6, KEEP_MS);
        retention.retain_for(0, 0, 100);
        retention.retain_for(0, 0, 60_000);
        assert_eq!(retention.shown.len(), 1);
    }

    #[test]
    fn bounded() {
        let mut retention = Retention::new(12, 6, KEEP_MS);
        for msn in 0..5_000u64 {
            assert!(retention.retain_for(msn, 0, 1_000_000_000) <= MAX_RETAIN);
        }
        assert!(retention.shown.len() <= MAX_RETAIN);
    }
}
