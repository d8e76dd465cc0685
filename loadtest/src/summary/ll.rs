//! The LL-HLS viewers' part of the summary.

use serde::Serialize;

use super::{ErrorSummary, Percentiles, errors, per_second, percentiles};
use crate::stats::{LlStats, get};

/// LL-HLS viewer results.
#[derive(Debug, Serialize)]
pub struct LlSummary {
    /// Viewers planned.
    pub viewers: usize,
    /// Viewers started (fewer than planned if the run ended during the ramp).
    pub viewers_started: u64,
    /// Viewers that fetched at least one part.
    pub viewers_receiving: u64,
    /// Fewest parts a viewer fetched (0 when there were no viewers).
    pub min_parts_per_viewer: u64,
    /// Playlists loaded (plain and blocking).
    pub playlists: u64,
    /// Blocking reloads sent.
    pub blocking_reloads: u64,
    /// Parts fetched.
    pub parts: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes received per second.
    pub bytes_in_per_s: f64,
    /// Start → first part received; `null` if none.
    pub ttff_ms: Option<Percentiles>,
    /// Preload hint seen → that part's bytes received; `null` if none.
    pub part_latency_ms: Option<Percentiles>,
    /// Blocking reloads answered 503 or taking more than three part targets.
    pub stalls: u64,
    /// 404s while waiting for the stream to start (retried, not errors).
    pub not_ready_retries: u64,
    /// Sessions started again after a failure.
    pub reconnects: u64,
    /// Failures.
    pub errors: ErrorSummary,
}

pub(super) fn ll(stats: &LlStats, viewers: usize, elapsed_s: f64) -> LlSummary {
    let min_parts = get(&stats.min_parts);
    LlSummary {
        viewers,
        viewers_started: get(&stats.started),
        viewers_receiving: get(&stats.receiving),
        min_parts_per_viewer: if min_parts == u64::MAX { 0 } else { min_parts },
        playlists: get(&stats.playlists),
        blocking_reloads: get(&stats.blocking_reloads),
        parts: get(&stats.parts),
        bytes_in: get(&stats.bytes_in),
        bytes_in_per_s: per_second(get(&stats.bytes_in), elapsed_s),
        ttff_ms: percentiles(&stats.ttff.merged()),
        part_latency_ms: percentiles(&stats.part_latency.merged()),
        stalls: get(&stats.stalls),
        not_ready_retries: get(&stats.not_ready),
        reconnects: get(&stats.reconnects),
        errors: errors(&stats.errors),
    }
}
