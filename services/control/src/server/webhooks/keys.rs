//! Every Redis key of the webhooks, in one place (the scripts get them from here).
//!
//! | key                          | type   | value                                                 |
//! |------------------------------|--------|-------------------------------------------------------|
//! | `fc:wh:targets`              | hash   | target id → target added through the admin API (JSON) |
//! | `fc:wh:seen:<event id>`      | string | dedupe guard: the event was queued (`PX` 48 h)        |
//! | `fc:wh:q:<target id>`        | list   | the target's events, oldest first (JSON items)        |
//! | `fc:wh:due`                  | zset   | target id → when its head is due, Unix ms             |
//! | `fc:wh:claim:<target id>`    | string | token of the replica delivering its head (`PX`)       |
//! | `fc:wh:attempts`             | hash   | target id → `"<failures> <event id>"` of its head     |
//! | `fc:wh:live`                 | hash   | stream id → its live publish session (JSON)           |
//! | `fc:wh:newest`               | hash   | stream id → newest epoch the lifecycle has seen       |
//! | `fc:wh:idle`                 | zset   | stream id → when its reconnect window closes, Unix ms |
//! | `fc:wh:idle_data`            | hash   | stream id → the ended session waiting for that (JSON) |

/// Targets added through the admin API.
pub const TARGETS: &str = "fc:wh:targets";
/// Prefix of the dedupe guards.
pub const SEEN: &str = "fc:wh:seen:";
/// Prefix of the per-target queues.
pub const QUEUE: &str = "fc:wh:q:";
/// Targets by due time.
pub const DUE: &str = "fc:wh:due";
/// Prefix of the per-target claims.
pub const CLAIM: &str = "fc:wh:claim:";
/// Failures of each target's head.
pub const ATTEMPTS: &str = "fc:wh:attempts";
/// Live publish sessions.
pub const LIVE: &str = "fc:wh:live";
/// Newest epoch per stream seen by the lifecycle.
pub const NEWEST: &str = "fc:wh:newest";
/// Reconnect-window deadlines.
pub const IDLE: &str = "fc:wh:idle";
/// Sessions waiting for their deadline.
pub const IDLE_DATA: &str = "fc:wh:idle_data";

/// A target's queue.
pub fn queue(target: &str) -> String {
    format!("{QUEUE}{target}")
}
