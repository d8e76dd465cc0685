//! A small bounded cache of playback id → stream (id and playback policy), so edges do not
//! ask control on every viewer request. A playback id never changes its stream, but a
//! stream's policy may, so `hit_ttl` bounds how long a policy change (and a delete) takes to
//! show; misses live a few seconds so a new stream becomes playable quickly. Expired hits
//! stay until evicted, so a lookup that fails can still answer from them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrocast_base::{PlaybackId, lock};

use crate::PlaybackStream;

/// Bounded playback-id cache with separate TTLs for hits and misses.
pub struct PlaybackCache {
    capacity: usize,
    hit_ttl: Duration,
    miss_ttl: Duration,
    entries: Mutex<HashMap<PlaybackId, Entry>>,
}

struct Entry {
    stream: Option<PlaybackStream>,
    expires: Instant,
}

impl PlaybackCache {
    /// A cache of at most `capacity` entries (0 disables it).
    pub fn new(capacity: usize, hit_ttl: Duration, miss_ttl: Duration) -> Self {
        Self {
            capacity,
            hit_ttl,
            miss_ttl,
            entries: Mutex::default(),
        }
    }

    /// `Some(answer)` if cached and fresh (the answer itself may be "no such stream").
    pub fn get(&self, playback_id: &PlaybackId, now: Instant) -> Option<Option<PlaybackStream>> {
        let entries = lock(&self.entries);
        let entry = entries.get(playback_id)?;
        (entry.expires > now).then(|| entry.stream.clone())
    }

    /// The stream of a found playback id even if its entry expired (stale-if-error);
    /// `None` for remembered misses and ids not held.
    pub fn stale_hit(&self, playback_id: &PlaybackId) -> Option<PlaybackStream> {
        lock(&self.entries).get(playback_id)?.stream.clone()
    }

    /// Remembers an answer.
    pub fn put(&self, playback_id: &PlaybackId, stream: Option<PlaybackStream>, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        let ttl = if stream.is_some() {
            self.hit_ttl
        } else {
            self.miss_ttl
        };
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity && !entries.contains_key(playback_id) {
            entries.retain(|_, entry| entry.expires > now);
            // Still full of fresh entries: drop an arbitrary one. Simple, and bounded.
            if entries.len() >= self.capacity
                && let Some(victim) = entries.keys().next().cloned()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(
            playback_id.clone(),
            Entry {
                stream,
                expires: now + ttl,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use ferrocast_base::{PlaybackPolicy, StreamId};

    use super::*;

    fn found(id: &str) -> Option<PlaybackStream> {
        Some(PlaybackStream {
            stream_id: StreamId::new(id),
            policy: PlaybackPolicy::Signed,
            dvr_window: Duration::ZERO,
        })
    }

    #[test]
    fn bounded_with_ttls() {
        let cache = PlaybackCache::new(2, Duration::from_secs(60), Duration::from_secs(1));
        let t0 = Instant::now();
        cache.put(&PlaybackId::new("a"), found("s1"), t0);
        cache.put(&PlaybackId::new("b"), None, t0);
        assert_eq!(cache.get(&PlaybackId::new("a"), t0), Some(found("s1")));
        assert_eq!(cache.get(&PlaybackId::new("b"), t0), Some(None));
        let later = t0 + Duration::from_secs(2);
        assert_eq!(
            cache.get(&PlaybackId::new("b"), later),
            None,
            "misses expire quickly"
        );
        assert_eq!(
            cache.stale_hit(&PlaybackId::new("a")),
            found("s1"),
            "hits stay as stale"
        );
        assert_eq!(
            cache.stale_hit(&PlaybackId::new("b")),
            None,
            "a miss is never served stale"
        );
        cache.put(&PlaybackId::new("c"), found("s3"), later);
        assert_eq!(lock(&cache.entries).len(), 2, "the expired miss made room");
        cache.put(&PlaybackId::new("d"), found("s4"), later);
        assert_eq!(lock(&cache.entries).len(), 2, "never above capacity");
        assert_eq!(cache.get(&PlaybackId::new("d"), later), Some(found("s4")));
    }
}
