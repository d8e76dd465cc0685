//! Edge settings, read from the `edge` table of the role's configuration.

use std::time::Duration;

use ferrocast_live::ViewerLimits;
use ferrocast_ops::Drain;
use ferrocast_ops::http::ConnectionLimits;
use serde::{Deserialize, Serialize};

use crate::thumbnail::ThumbnailConfig;
use crate::watch::WatchConfig;

/// Everything an edge needs to know: the `edge` table of `ferrocast edge` and of
/// `ferrocast dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeConfig {
    /// Segments listed in a playlist.
    pub hls_window: usize,
    /// `EXT-X-TARGETDURATION`, seconds: the origins' packager target rounded up
    /// (`hls::target_duration_s`), which keeps every segment under it (ADR 17).
    pub hls_min_target_duration_s: u64,
    /// How far HTTP-FLV viewers may fall behind before they skip, and then are cut.
    pub viewers: ViewerLimits,
    /// Header-read and idle timeouts and the connection cap of the HTTP port.
    pub http: ConnectionLimits,
    /// A socket write of the HTTP port that makes no progress for this long closes the
    /// connection: the only bound on an HTTP-FLV viewer that stopped reading.
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// What SIGTERM does to requests in flight: `request_deadline` applies (the ingest
    /// deadlines do not: an edge has no publishes).
    pub drain: Drain,
    /// LL-HLS, DASH and the multivariant playlists under `/ll/`.
    pub ll_hls: LlHlsConfig,
    /// The watch page's player files (`/watch/`).
    pub watch: WatchConfig,
    /// Token checks of signed streams (ADR 22).
    pub signed_playback: SignedPlaybackConfig,
    /// Thumbnails (`/thumbnail/`): the decoder's bounds and the cache.
    pub thumbnails: ThumbnailConfig,
}

/// The `[edge.signed_playback]` table: how fresh the edge keeps control's signing keys, and
/// how much clock difference a token's `exp` and `nbf` get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignedPlaybackConfig {
    /// How often the signing keys are asked of control; each ask is bounded by the same
    /// time. A deleted key stops verifying within twice this (ADR 22).
    #[serde(with = "humantime_serde")]
    pub keys_refresh: Duration,
    /// Clock difference allowed on `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
}

impl Default for SignedPlaybackConfig {
    fn default() -> Self {
        Self {
            keys_refresh: Duration::from_secs(2),
            leeway: Duration::from_secs(5),
        }
    }
}

/// The `[edge.ll_hls]` table: what an edge holds of each stream's low-latency window and how
/// many playlist requests it keeps waiting at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlHlsConfig {
    /// Cap on the bytes of one stream's part log mirrored by this edge (the mirror's
    /// `LogConfig::max_bytes`); past it the oldest segments go first.
    pub max_window_bytes: usize,
    /// Blocking playlist requests (`_HLS_msn`) and preload-hinted part requests waiting at
    /// once on this edge; one more is answered 503 at once.
    pub max_blocked_requests: usize,
}

impl Default for LlHlsConfig {
    fn default() -> Self {
        Self {
            max_window_bytes: 16 * 1024 * 1024,
            max_blocked_requests: 10_000,
        }
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            hls_window: 6,
            hls_min_target_duration_s: 2,
            viewers: ViewerLimits::default(),
            http: ConnectionLimits::default(),
            write_timeout: Duration::from_secs(10),
            drain: Drain::default(),
            ll_hls: LlHlsConfig::default(),
            watch: WatchConfig::default(),
            signed_playback: SignedPlaybackConfig::default(),
            thumbnails: ThumbnailConfig::default(),
        }
    }
}
