//! How many segments the index keeps, so that every segment stays available as long as a
//! player may still ask for it.
//!
//! A segment is kept while a playlist shows it, and then, after it left the playlist, for its
//! own duration plus the duration of the longest playlist that showed it (RFC 8216 §6.2.2: a
//! player that loaded that playlist just before the segment left may still be playing up to
//! it), plus [`DISTRIBUTION_MS`] for a playlist answered from an edge's or a CDN's cache.
//! Edges serve only what the index lists, so the index retains every segment from the oldest
//! one still needed, and never fewer than `hls.retain`.
//!
//! After an outage of the index or the object store, the segments that waited are listed in a
//! burst, each already late by the outage; edges show each for longer ([`shown_from`]), and
//! this keeps them for as long after. Bounded by [`MAX_RETAIN`].

use std::collections::VecDeque;

use ferrocast_base::Msn;
use ferrocast_media::hls::shown_from;

/// The most segments kept listed, whatever the lateness (about 33 minutes of 2 s segments).
pub const MAX_RETAIN: usize = 1000;
/// How long after the index changed a player may still get the playlist it replaced: an
/// edge's cached index state lives 1 s, a CDN's copy of the playlist another (`max-age=1`).
pub const DISTRIBUTION_MS: i64 = 2_000;

/// One listed segment, as edges show it.
#[derive(Debug, Clone, Copy)]
struct Listed {
    msn: Msn,
    listed_at_ms: i64,
    media_end_ms: i64,
    duration_ms: i64,
    /// When it was first seen no longer shown (Unix ms); `None` while shown.
    left_at_ms: Option<i64>,
    /// Media duration of the longest playlist seen showing it.
    longest_playlist_ms: i64,
}

impl Listed {
    /// Whether a player may still ask for it at `now_ms`.
    fn needed_at(&self, now_ms: i64) -> bool {
        let Some(left_at) = self.left_at_ms else {
            return true;
        };
        let available_until = left_at
            .saturating_add(self.duration_ms)
            .saturating_add(self.longest_playlist_ms)
            .saturating_add(DISTRIBUTION_MS);
        available_until > now_ms
    }
}

/// One session's recently listed segments, as edges judge how long to show them.
#[derive(Debug)]
pub struct Retention {
    base: usize,
    window: usize,
    keep_ms: i64,
    /// In msn order, from the oldest one that may still be needed.
    listed: VecDeque<Listed>,
}

impl Retention {
    /// Retains at least `base` segments; a playlist shows `window` of them, each for at least
    /// `keep_ms` after it was listed.
    pub fn new(base: usize, window: usize, keep_ms: i64) -> Self {
        Self {
            base,
            window,
            keep_ms,
            listed: VecDeque::new(),
        }
    }

    /// How many segments the index must retain when `msn`, lasting `duration_ms`, is listed at
    /// `listed_at_ms` (Unix ms), its media having ended at `media_end_ms`. Called again for
    /// the same msn (a retried append) it replaces the earlier listing time.
    pub fn retain_for(
        &mut self,
        msn: Msn,
        duration_ms: u64,
        media_end_ms: i64,
        listed_at_ms: i64,
    ) -> usize {
        if self.listed.back().is_some_and(|newest| newest.msn == msn) {
            self.listed.pop_back();
        }
        self.listed.push_back(Listed {
            msn,
            listed_at_ms,
            media_end_ms,
            duration_ms: i64::try_from(duration_ms).unwrap_or(i64::MAX),
            left_at_ms: None,
            longest_playlist_ms: 0,
        });
        if self.listed.len() > MAX_RETAIN {
            self.listed.pop_front();
        }
        let now = listed_at_ms;
        let times: Vec<(i64, i64)> = self
            .listed
            .iter()
            .map(|segment| (segment.listed_at_ms, segment.media_end_ms))
            .collect();
        let first_shown = shown_from(&times, self.window, now, self.keep_ms);
        let (left, shown) = self.listed.make_contiguous().split_at_mut(first_shown);
        let playlist_ms = shown
            .iter()
            .fold(0i64, |sum, segment| sum.saturating_add(segment.duration_ms));
        for segment in shown {
            segment.left_at_ms = None;
            segment.longest_playlist_ms = segment.longest_playlist_ms.max(playlist_ms);
        }
        for segment in left {
            segment.left_at_ms.get_or_insert(now);
        }
        let oldest_needed = self
            .listed
            .iter()
            .position(|segment| segment.needed_at(now))
            .unwrap_or(self.listed.len().saturating_sub(1));
        let oldest_msn = self
            .listed
            .get(oldest_needed)
            .map_or(msn, |segment| segment.msn);
        // What is not needed and not within a window of the newest (which a later, late
        // segment could still keep shown) is forgotten.
        let prune = oldest_needed.min(self.listed.len().saturating_sub(self.window));
        self.listed.drain(..prune);
        let span = msn.get().saturating_sub(oldest_msn.get()).saturating_add(1);
        let span = usize::try_from(span).unwrap_or(MAX_RETAIN);
        span.max(self.base).min(MAX_RETAIN.max(self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEGMENT_MS: i64 = 2_000;
    const WINDOW: usize = 6;
    const KEEP_MS: i64 = WINDOW as i64 * SEGMENT_MS;

    /// One append: (duration ms, media end, listed at), msns counting from 0.
    type Append = (u64, i64, i64);

    /// Runs `appends` through a retention and checks RFC 8216 §6.2.2 against what edges show,
    /// judged on their own from every segment listed so far: a segment the index no longer
    /// retains left the playlist at least its duration plus the longest playlist that showed
    /// it ago. Returns how many segments each append retained.
    fn check_availability(appends: &[Append]) -> Vec<usize> {
        let mut retention = Retention::new(12, WINDOW, KEEP_MS);
        let mut left_at: Vec<Option<i64>> = Vec::new();
        let mut longest: Vec<i64> = Vec::new();
        let mut retained_counts = Vec::new();
        for (msn, &(duration, media_end, listed_at)) in appends.iter().enumerate() {
            let retained = retention.retain_for(Msn(msn as u64), duration, media_end, listed_at);
            retained_counts.push(retained);
            // What an edge shows now, from the whole listing.
            let times: Vec<(i64, i64)> = appends[..=msn].iter().map(|a| (a.2, a.1)).collect();
            let first = shown_from(&times, WINDOW, listed_at, KEEP_MS);
            let playlist: i64 = appends[first..=msn].iter().map(|a| a.0 as i64).sum();
            left_at.push(None);
            longest.push(0);
            for shown in first..=msn {
                left_at[shown] = None;
                longest[shown] = longest[shown].max(playlist);
            }
            for gone in &mut left_at[..first] {
                gone.get_or_insert(listed_at);
            }
            let oldest_retained = (msn + 1).saturating_sub(retained);
            for deleted in 0..oldest_retained {
                let left = left_at[deleted].expect("a segment still shown was trimmed");
                let available_until = left + appends[deleted].0 as i64 + longest[deleted];
                assert!(
                    listed_at >= available_until,
                    "segment {deleted} trimmed at {listed_at}, before {available_until}"
                );
            }
        }
        retained_counts
    }

    fn on_time(count: u64, duration: u64) -> Vec<Append> {
        (1..=count)
            .map(|n| {
                let end = (n * duration) as i64;
                (duration, end, end + 100)
            })
            .collect()
    }

    /// The user report of issue 13: segments were deleted 12 s after leaving the playlist,
    /// where RFC 8216 §6.2.2 asks for their duration plus the playlist's (2 + 14 s here).
    #[test]
    fn steady_state_keeps_each_segment_its_duration_and_the_playlists_after_it_left() {
        let retained = check_availability(&on_time(60, 2_000));
        // Shown 7 (the 6 of the window, and the one listed 12 s ago, which its keep time
        // still shows), then 2 + 14 + 2 s more: 16 segments.
        assert!(retained[20..].iter().all(|&r| r == 16), "{retained:?}");
    }

    #[test]
    fn long_segments_are_kept_for_their_own_duration_too() {
        let mut appends = on_time(10, 2_000);
        let start = appends.last().map_or(0, |a| a.1);
        for n in 1..=10i64 {
            let end = start + n * 8_000;
            appends.push((8_000, end, end + 100));
        }
        let resume = appends.last().map_or(0, |a| a.1);
        for n in 1..=30i64 {
            let end = resume + n * 2_000;
            appends.push((2_000, end, end + 100));
        }
        check_availability(&appends);
    }

    #[test]
    fn a_burst_after_an_outage_stays_retained_until_played_in_real_time() {
        // 30 segments (60 s) waited; all are listed when the outage ends.
        let resume = 30 * SEGMENT_MS;
        let mut appends: Vec<Append> = (0..30)
            .map(|n| (2_000, (n + 1) * SEGMENT_MS, resume))
            .collect();
        // Then on time again for long.
        for step in 1..170i64 {
            let now = resume + step * SEGMENT_MS;
            appends.push((2_000, now - 100, now));
        }
        let retained = check_availability(&appends);
        assert_eq!(retained[29], 30, "every late segment");
        // A player that stalled plays burst segment k at about resume + 2k: still retained.
        for step in 1..30usize {
            let msn = 29 + step;
            assert!(
                msn + 1 - retained[msn] <= step,
                "burst segment {step} at msn {msn}"
            );
        }
        // Long after, on time again: back to the steady state.
        assert_eq!(retained.last(), Some(&16));
    }

    #[test]
    fn a_retried_append_replaces_its_listing_time() {
        let mut retention = Retention::new(12, 6, KEEP_MS);
        retention.retain_for(Msn(0), 2_000, 0, 100);
        retention.retain_for(Msn(0), 2_000, 0, 60_000);
        assert_eq!(retention.listed.len(), 1);
        assert_eq!(retention.listed[0].listed_at_ms, 60_000);
    }

    #[test]
    fn bounded() {
        let mut retention = Retention::new(12, 6, KEEP_MS);
        for msn in 0..5_000u64 {
            assert!(retention.retain_for(Msn(msn), 2_000, 0, 1_000_000_000) <= MAX_RETAIN);
        }
        assert!(retention.listed.len() <= MAX_RETAIN);
    }
}
