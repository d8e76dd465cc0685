//! The timing both sides of an authorization agree on: control waits up to its
//! `takeover_after` plus [`MAX_DECISION_SLACK`] for a quiet holder before it decides, and a
//! client's authorization deadline must outlast that wait.

use std::time::Duration;

/// Control's default `takeover_after`: a holder without media for longer than this loses its
/// stream to the next authorized publisher.
pub const DEFAULT_TAKEOVER_AFTER: Duration = Duration::from_millis(1500);

/// How much longer than `takeover_after` an authorization waits for a holder to go stale:
/// covers a heartbeat in flight and the re-check cadence, so a holder that died just
/// before the call is taken over by this call rather than refused.
pub const MAX_DECISION_SLACK: Duration = Duration::from_millis(250);
