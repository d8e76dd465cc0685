//! Edge metrics (`ferrocast_edge_*`): viewers, egress, HTTP requests, the segment cache,
//! slow FLV viewers, LL-HLS (requests by kind, blocked requests and their waits) and, in
//! `thumbnail`, thumbnails. Counters are recorded where things happen; gauges and the cache's
//! counters are set by [`collect`] when scraped.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use ferrocast_ops::LiveCount;
use ferrocast_ops::http_metrics::HttpMetrics;
use ferrocast_store::{CachedIndex, SegmentCache};
use metrics::Unit;

const VIEWERS: &str = "ferrocast_edge_viewers";
const EGRESS_BYTES: &str = "ferrocast_edge_egress_bytes_total";
const CACHE_HITS: &str = "ferrocast_edge_segment_cache_hits_total";
const CACHE_MISSES: &str = "ferrocast_edge_segment_cache_misses_total";
const CACHE_EVICTIONS: &str = "ferrocast_edge_segment_cache_evictions_total";
const CACHE_BYTES: &str = "ferrocast_edge_segment_cache_bytes";
const FETCHES: &str = "ferrocast_edge_segment_fetches_total";
const FETCH_FAILURES: &str = "ferrocast_edge_segment_fetch_failures_total";
const FLV_FRAMES_DROPPED: &str = "ferrocast_edge_flv_frames_dropped_total";
const FLV_VIEWERS_CUT: &str = "ferrocast_edge_flv_viewers_cut_total";
const FLV_LANE_VIEWERS: &str = "ferrocast_edge_flv_viewers_in_lanes";
const INDEX_STALE_ANSWERS: &str = "ferrocast_edge_index_stale_answers_total";
const LL_REQUESTS: &str = "ferrocast_edge_ll_requests_total";
const LL_BLOCKED_REQUESTS: &str = "ferrocast_edge_ll_blocked_requests";
const LL_BLOCKED_REFUSED: &str = "ferrocast_edge_ll_blocked_refused_total";
const LL_BLOCK_WAIT: &str = "ferrocast_edge_ll_block_wait_seconds";
const PLAYBACK_REFUSALS: &str = "ferrocast_edge_playback_refusals_total";
const SIGNING_KEYS: &str = "ferrocast_edge_signing_keys";
const SIGNING_KEYS_REFRESHED: &str = "ferrocast_edge_signing_keys_refreshed_timestamp_seconds";
const SIGNING_KEYS_FAILURES: &str = "ferrocast_edge_signing_keys_refresh_failures_total";

/// The HTTP request metrics of the edge's public port.
pub const HTTP: HttpMetrics = HttpMetrics {
    requests: "ferrocast_edge_http_requests_total",
    duration: "ferrocast_edge_http_request_duration_seconds",
    route_of,
};
const ROUTES: [&str; 7] = [
    "hls_playlist",
    "hls_segment",
    "flv",
    "thumbnail",
    "ll_manifest",
    "ll_object",
    "other",
];

/// What an LL request asked for: the `kind` label of `ferrocast_edge_ll_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LlKind {
    /// A media playlist without `_HLS_msn`.
    Playlist,
    /// A media playlist with `_HLS_msn` (a blocking reload).
    BlockingPlaylist,
    /// A media playlist request refused as malformed (400).
    BadRequest,
    /// `index.m3u8` or `multivariant.m3u8`.
    Multivariant,
    /// `manifest.mpd`.
    Mpd,
    /// An init segment.
    Init,
    /// A part.
    Part,
    /// A complete segment.
    Segment,
}

impl LlKind {
    const ALL: [LlKind; 8] = [
        LlKind::Playlist,
        LlKind::BlockingPlaylist,
        LlKind::BadRequest,
        LlKind::Multivariant,
        LlKind::Mpd,
        LlKind::Init,
        LlKind::Part,
        LlKind::Segment,
    ];

    fn label(self) -> &'static str {
        match self {
            LlKind::Playlist => "playlist",
            LlKind::BlockingPlaylist => "blocking_playlist",
            LlKind::BadRequest => "bad_request",
            LlKind::Multivariant => "multivariant",
            LlKind::Mpd => "mpd",
            LlKind::Init => "init",
            LlKind::Part => "part",
            LlKind::Segment => "segment",
        }
    }
}

/// HTTP-FLV viewers connected now.
pub(crate) static FLV_VIEWERS: LiveCount = LiveCount::new();
/// HTTP-FLV viewers a fan-out lane writes to now (ADR 25).
pub(crate) static FLV_VIEWERS_IN_LANES: LiveCount = LiveCount::new();
/// LL requests waiting for a part now.
pub(crate) static LL_BLOCKED: LiveCount = LiveCount::new();
/// Media seconds of HLS segments requested, per wall-clock second.
static HLS_DEMAND: MediaDemand = MediaDemand::new();

/// Describes every edge metric and registers the label-free and fixed-label ones at zero.
pub fn describe() {
    describe_signed_playback();
    metrics::describe_gauge!(
        VIEWERS,
        "Viewers by protocol (HLS estimated from segment requests)."
    );
    metrics::describe_counter!(EGRESS_BYTES, Unit::Bytes, "Body bytes sent, by protocol.");
    metrics::describe_counter!(CACHE_HITS, "Segment requests served from memory.");
    metrics::describe_counter!(CACHE_MISSES, "Segment requests that waited for a fetch.");
    metrics::describe_counter!(CACHE_EVICTIONS, "Segments evicted to stay within budget.");
    metrics::describe_gauge!(
        CACHE_BYTES,
        Unit::Bytes,
        "Bytes of segments held in memory."
    );
    metrics::describe_counter!(FETCHES, "Segment GETs sent to object storage.");
    metrics::describe_counter!(FETCH_FAILURES, "Segment GETs that failed.");
    metrics::describe_counter!(FLV_FRAMES_DROPPED, "Frames skipped for slow FLV viewers.");
    metrics::describe_counter!(FLV_VIEWERS_CUT, "FLV viewers cut for lagging too often.");
    metrics::describe_gauge!(
        FLV_LANE_VIEWERS,
        "HTTP-FLV viewers whose media a fan-out lane writes (caught up, served outside hyper)."
    );
    metrics::describe_counter!(
        INDEX_STALE_ANSWERS,
        "Playlist requests answered from the last known index state while the index was unreachable."
    );
    metrics::describe_counter!(LL_REQUESTS, "LL-HLS and DASH requests, by kind.");
    metrics::describe_gauge!(
        LL_BLOCKED_REQUESTS,
        "Blocking playlist and preload-hinted part requests waiting for a part now."
    );
    metrics::describe_counter!(
        LL_BLOCKED_REFUSED,
        "Requests answered 503 because edge.ll_hls.max_blocked_requests were already waiting."
    );
    metrics::describe_histogram!(
        LL_BLOCK_WAIT,
        Unit::Seconds,
        "How long a blocked request waited, by outcome (answered, unanswered: 503)."
    );
    for protocol in ["flv", "hls", "ll"] {
        metrics::counter!(EGRESS_BYTES, "protocol" => protocol).absolute(0);
    }
    for kind in LlKind::ALL {
        metrics::counter!(LL_REQUESTS, "kind" => kind.label()).absolute(0);
    }
    for name in [
        FLV_FRAMES_DROPPED,
        FLV_VIEWERS_CUT,
        INDEX_STALE_ANSWERS,
        LL_BLOCKED_REFUSED,
    ] {
        metrics::counter!(name).absolute(0);
    }
    HTTP.describe(&ROUTES);
    crate::thumbnail::describe();
}

/// Sets the edge's gauges and cache counters at scrape time.
pub fn collect(segments: &SegmentCache) {
    metrics::gauge!(VIEWERS, "protocol" => "flv").set(FLV_VIEWERS.get() as f64);
    metrics::gauge!(FLV_LANE_VIEWERS).set(FLV_VIEWERS_IN_LANES.get() as f64);
    metrics::gauge!(VIEWERS, "protocol" => "hls").set(HLS_DEMAND.viewers());
    metrics::gauge!(LL_BLOCKED_REQUESTS).set(LL_BLOCKED.get() as f64);
    let stats = segments.stats();
    metrics::counter!(CACHE_HITS).absolute(stats.hits);
    metrics::counter!(CACHE_MISSES).absolute(stats.misses);
    metrics::counter!(CACHE_EVICTIONS).absolute(stats.evictions);
    metrics::counter!(FETCHES).absolute(stats.backend_gets);
    metrics::counter!(FETCH_FAILURES).absolute(stats.backend_failures);
    metrics::gauge!(CACHE_BYTES).set(stats.cached_bytes as f64);
}

/// Copies the index cache's count of stale answers into its metric.
pub fn collect_index(index: &CachedIndex) {
    metrics::counter!(INDEX_STALE_ANSWERS).absolute(index.stale_answers());
}

fn route_of(request: &Request) -> &'static str {
    let path = request.uri().path();
    if path.starts_with("/hls/") {
        if path.ends_with(".m3u8") {
            return "hls_playlist";
        }
        if path.ends_with(".ts") {
            return "hls_segment";
        }
    }
    if path.starts_with("/live/") && path.ends_with(".flv") {
        return "flv";
    }
    if path.starts_with("/thumbnail/") {
        return "thumbnail";
    }
    if let Some(rest) = path.strip_prefix("/ll/") {
        // `/ll/{playback_id}/{file}` is a manifest; one more level is an epoch's object.
        return match rest.split('/').count() {
            2 => "ll_manifest",
            3 => "ll_object",
            _ => "other",
        };
    }
    "other"
}

/// Counts HLS bytes sent; a segment also counts its media time as viewer demand.
pub(crate) fn hls_sent(bytes: usize, segment_duration_ms: Option<u64>) {
    metrics::counter!(EGRESS_BYTES, "protocol" => "hls").increment(bytes as u64);
    if let Some(duration_ms) = segment_duration_ms {
        HLS_DEMAND.record(duration_ms);
    }
}

/// Counts one LL request of `kind`.
pub(crate) fn ll_request(kind: LlKind) {
    metrics::counter!(LL_REQUESTS, "kind" => kind.label()).increment(1);
}

/// Counts LL body bytes sent (playlists, MPDs, objects).
pub(crate) fn ll_sent(bytes: usize) {
    metrics::counter!(EGRESS_BYTES, "protocol" => "ll").increment(bytes as u64);
}

/// Counts a request refused because too many were blocked already.
pub(crate) fn ll_blocked_refused() {
    metrics::counter!(LL_BLOCKED_REFUSED).increment(1);
}

/// Records how long a blocked request waited and whether it got its part.
pub(crate) fn ll_block_waited(waited: std::time::Duration, answered: bool) {
    let outcome = if answered { "answered" } else { "unanswered" };
    metrics::histogram!(LL_BLOCK_WAIT, "outcome" => outcome).record(waited.as_secs_f64());
}

/// The FLV egress counter, held by each viewer.
pub(crate) fn flv_egress() -> ::metrics::Counter {
    metrics::counter!(EGRESS_BYTES, "protocol" => "flv")
}

pub(crate) fn flv_frames_dropped(frames: u64) {
    metrics::counter!(FLV_FRAMES_DROPPED).increment(frames);
}

pub(crate) fn flv_viewer_cut() {
    metrics::counter!(FLV_VIEWERS_CUT).increment(1);
}

const DEMAND_WINDOW_S: u64 = 30;

/// Media milliseconds requested per wall-clock second over the last 30 s. A player fetches
/// media as fast as it plays it, so media seconds requested per second is the number of
/// players (behind a CDN: of CDN fetchers).
struct MediaDemand {
    /// `(unix second, media ms)`, indexed by the second modulo the window.
    slots: Mutex<[(u64, u64); DEMAND_WINDOW_S as usize]>,
}

impl MediaDemand {
    const fn new() -> Self {
        Self {
            slots: Mutex::new([(0, 0); DEMAND_WINDOW_S as usize]),
        }
    }

    fn record(&self, media_ms: u64) {
        let now = unix_seconds();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut slots[(now % DEMAND_WINDOW_S) as usize];
        if slot.0 != now {
            *slot = (now, 0);
        }
        slot.1 += media_ms;
    }

    fn viewers(&self) -> f64 {
        let now = unix_seconds();
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let recent = slots
            .iter()
            .filter(|(second, _)| now.saturating_sub(*second) < DEMAND_WINDOW_S);
        let media_ms: u64 = recent.map(|(_, ms)| ms).sum();
        media_ms as f64 / 1000.0 / DEMAND_WINDOW_S as f64
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn describe_signed_playback() {
    metrics::describe_counter!(
        PLAYBACK_REFUSALS,
        "Requests of signed streams refused (403), by reason."
    );
    for refusal in crate::auth::Refusal::ALL {
        metrics::counter!(PLAYBACK_REFUSALS, "reason" => refusal.label()).absolute(0);
    }
    metrics::describe_gauge!(SIGNING_KEYS, "Playback signing keys in force on this edge.");
    metrics::describe_gauge!(
        SIGNING_KEYS_REFRESHED,
        Unit::Seconds,
        "When the signing keys were last fetched from control (Unix time): its age is how stale they may be."
    );
    metrics::describe_counter!(
        SIGNING_KEYS_FAILURES,
        "Polls of control for the signing keys that failed or timed out (the last set stays)."
    );
    metrics::counter!(SIGNING_KEYS_FAILURES).absolute(0);
}

/// Counts a signed stream's request refused for `refusal`.
pub(crate) fn playback_refused(refusal: crate::auth::Refusal) {
    metrics::counter!(PLAYBACK_REFUSALS, "reason" => refusal.label()).increment(1);
}

/// Sets how many signing keys are in force.
pub(crate) fn signing_keys(count: usize) {
    metrics::gauge!(SIGNING_KEYS).set(count as f64);
}

/// Stamps a successful poll of the signing keys.
pub(crate) fn signing_keys_refreshed() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    metrics::gauge!(SIGNING_KEYS_REFRESHED).set(now.as_secs_f64());
}

/// Counts a failed poll of the signing keys.
pub(crate) fn signing_keys_refresh_failed() {
    metrics::counter!(SIGNING_KEYS_FAILURES).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demand_of_one_player_is_one_viewer() {
        let demand = MediaDemand::new();
        // A player that fetched 30 s of media in the last 30 s.
        for _ in 0..15 {
            demand.record(2000);
        }
        assert!((demand.viewers() - 1.0).abs() < 1e-9);
    }
}
