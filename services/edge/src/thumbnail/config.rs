//! The `[edge.thumbnails]` table: how much decoding an edge does for thumbnails, and how
//! long it keeps what it made.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bounds of the thumbnail decoder: one worker thread at lowered priority, a short queue, a
/// rate cap and a byte-bounded cache (docs/thumbnails.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThumbnailConfig {
    /// Decodes started per second at most, over every stream of this edge (a token bucket
    /// holding one second's worth). 0 turns decoding off: only cached thumbnails are served.
    pub max_decodes_per_second: u32,
    /// Decodes waiting for the worker at most; one more is answered 503 at once.
    pub max_queued: usize,
    /// Bytes of JPEGs kept in memory; the least recently used go first.
    pub cache_bytes: usize,
    /// `Cache-Control: max-age` of a thumbnail: about one GOP, after which a newer keyframe
    /// is likely.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// How long a request waits, in all, for a keyframe when the stream has none yet and for
    /// its decode; past it, 503.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// Largest picture (width × height, as the stream's SPS declares it) decoded at all.
    pub max_pixels: u64,
    /// JPEG quality, 1–100.
    pub quality: u8,
    /// Added to the worker thread's nice value (0–19), so that under contention ingest and
    /// delivery threads run first. 0 leaves it at the process's.
    pub worker_nice: u8,
}

impl Default for ThumbnailConfig {
    fn default() -> Self {
        Self {
            max_decodes_per_second: 10,
            max_queued: 8,
            cache_bytes: 16 * 1024 * 1024,
            max_age: Duration::from_secs(2),
            max_wait: Duration::from_secs(5),
            max_pixels: 4096 * 2304,
            quality: 80,
            worker_nice: 10,
        }
    }
}
