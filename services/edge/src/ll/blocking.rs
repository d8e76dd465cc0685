//! Waiting for the part log to hold something it does not hold yet: a blocking playlist
//! reload (RFC 8216bis §6.2.5.2) or a preload-hinted part.
//!
//! The wait is woken by the log's `watch` of its version, which the relay mirror moves on
//! every applied event: no polling, and nothing asks Redis. Each wake re-checks under the
//! log's lock. The caller subscribes before its first check, so a change between that check
//! and the wait still wakes it.
//!
//! Bounds: one permit of `edge.ll_hls.max_blocked_requests` per waiting request (one more
//! is answered 503 at once), and three target durations of waiting (then 503, as the RFC
//! asks), so neither a flood of requests for far-future parts nor a stalled stream can hold
//! an edge's memory or connections.

use std::time::Duration;

use ferrocast_live::LogChannel;
use ferrocast_media::ll::PartLog;
use tokio::sync::watch;
use tokio::time::{Instant, timeout_at};

use crate::state::Edge;

/// Target duration assumed before a session says its own (`EdgeConfig` has no say in it:
/// the origin's packager does).
const DEFAULT_TARGET_DURATION: Duration = Duration::from_secs(2);
/// How many target durations a request may wait (RFC 8216bis §6.2.5.2).
const WAIT_TARGET_DURATIONS: u32 = 3;

/// Why a wait ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// The edge already holds `max_blocked_requests` waiting requests.
    TooMany,
    /// Three target durations passed.
    TimedOut,
    /// The log was dropped (the stream's mirror went away).
    Gone,
}

impl Unanswered {
    /// The 503 body.
    pub fn message(self) -> &'static str {
        match self {
            Unanswered::TooMany => "too many blocked requests\n",
            Unanswered::TimedOut => "the requested part did not arrive in time\n",
            Unanswered::Gone => "the stream's log went away\n",
        }
    }
}

/// Waits until `check` answers `Some`, re-checking after each change of the log.
/// `changes` must have been taken (with [`LogChannel::changes`]) before the caller's own
/// first check, which found nothing.
pub async fn wait_for<T>(
    edge: &Edge,
    channel: &LogChannel,
    mut changes: watch::Receiver<u64>,
    check: impl Fn(&PartLog) -> Option<T>,
) -> Result<T, Unanswered> {
    let Ok(_permit) = edge.blocked.try_acquire() else {
        crate::metrics::ll_blocked_refused();
        return Err(Unanswered::TooMany);
    };
    let _waiting = crate::metrics::LL_BLOCKED.enter();
    let started = Instant::now();
    let deadline = started + wait_limit(channel);
    let outcome = loop {
        match timeout_at(deadline, changes.changed()).await {
            Err(_elapsed) => break Err(Unanswered::TimedOut),
            Ok(Err(_closed)) => break Err(Unanswered::Gone),
            Ok(Ok(())) => {}
        }
        if let Some(found) = channel.read(&check) {
            break Ok(found);
        }
    };
    crate::metrics::ll_block_waited(started.elapsed(), outcome.is_ok());
    outcome
}

/// Three target durations of the log's session.
fn wait_limit(channel: &LogChannel) -> Duration {
    let target = channel.read(|log| {
        log.session()
            .map(|session| target_duration(session.target_duration_ms))
    });
    target.unwrap_or(DEFAULT_TARGET_DURATION) * WAIT_TARGET_DURATIONS
}

/// `EXT-X-TARGETDURATION` of a session: its segment target in whole seconds, rounded up.
fn target_duration(target_duration_ms: u64) -> Duration {
    Duration::from_secs(target_duration_ms.div_ceil(1000).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_duration_is_whole_seconds_rounded_up() {
        assert_eq!(target_duration(2000), Duration::from_secs(2));
        assert_eq!(target_duration(2001), Duration::from_secs(3));
        assert_eq!(target_duration(0), Duration::from_secs(1));
    }
}
