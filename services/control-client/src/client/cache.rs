//! A small bounded cache of playback id → stream id, so edges do not ask control on every
//! viewer request. Playback ids never change, so hits live long (deletes still show up after
//! `hit_ttl`); misses live a few seconds so a new stream becomes playable quickly. Expired
//! hits stay until evicted, so a lookup that fails can still answer from them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrocast_base::{PlaybackId, StreamId, lock};

/// Bounded playback-id cache with separate TTLs for hits and misses.
pub struct PlaybackCache {
    capacity: usize,
    hit_ttl: Duration,
    miss_ttl: Duration,
    entries: Mutex<HashMap<PlaybackId, Entry>>,
}

struct Entry {
    stream_id: Option<StreamId>,
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
    pub fn get(&self, playback_id: &PlaybackId, now: Instant) -> Option<Option<StreamId>> {
        let entries = lock(&self.entries);
        let entry = entries.get(playback_id)?;
        (entry.expires > now).then(|| entry.stream_id.clone())
    }

    /// The stream id of a found playback id even if its entry expired (stale-if-error);
    /// `None` for remembered misses and ids not held.
    pub fn stale_hit(&self, playback_id: &PlaybackId) -> Option<StreamId> {
        lock(&self.entries).get(playback_id)?.stream_id.clone()
    }

    /// Remembers an answer.
    pub fn put(&self, playback_id: &PlaybackId, stream_id: Option<StreamId>, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        let ttl = if stream_id.is_some() {
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
                stream_id,
                expires: now + ttl,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_with_ttls() {
        let cache = PlaybackCache::new(2, Duration::from_secs(60), Duration::from_secs(1));
        let t0 = Instant::now();
        cache.put(&PlaybackId::new("a"), Some(StreamId::new("s1")), t0);
        cache.put(&PlaybackId::new("b"), None, t0);
        assert_eq!(
            cache.get(&PlaybackId::new("a"), t0),
            Some(Some(StreamId::new("s1")))
        );
        assert_eq!(cache.get(&PlaybackId::new("b"), t0), Some(None));
        let later = t0 + Duration::from_secs(2);
        assert_eq!(
            cache.get(&PlaybackId::new("b"), later),
            None,
            "misses expire quickly"
        );
        assert_eq!(
            cache.stale_hit(&PlaybackId::new("a")),
            Some(StreamId::new("s1")),
            "hits stay as stale"
        );
        assert_eq!(
            cache.stale_hit(&PlaybackId::new("b")),
            None,
            "a miss is never served stale"
        );
        cache.put(&PlaybackId::new("c"), Some(StreamId::new("s3")), later);
        assert_eq!(lock(&cache.entries).len(), 2, "the expired miss made room");
        cache.put(&PlaybackId::new("d"), Some(StreamId::new("s4")), later);
        assert_eq!(lock(&cache.entries).len(), 2, "never above capacity");
        assert_eq!(
            cache.get(&PlaybackId::new("d"), later),
            Some(Some(StreamId::new("s4")))
        );
    }
}
