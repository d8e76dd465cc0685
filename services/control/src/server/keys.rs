//! Every Redis key the control plane uses, in one place, so the layout can be read (and
//! changed) at a glance.
//!
//! | key                      | type   | value                                              |
//! |--------------------------|--------|----------------------------------------------------|
//! | `fc:streams`             | set    | ids of all streams                                 |
//! | `fc:stream:<id>`         | string | [`StreamRecord`](crate::StreamRecord) as JSON      |
//! | `fc:playback:<pid>`      | string | stream id of a playback id                         |
//! | `fc:epoch:<id>`          | string | last fencing epoch handed out (`INCR`, never reset)|
//! | `fc:lease:<id>`          | string | placement lease as JSON, with a TTL (`PX`)         |
//! | `fc:holder:<id>`         | string | origin id granted the newest epoch (for restores)  |
//! | `fc:nodes`               | set    | ids of nodes that heartbeated (pruned lazily)      |
//! | `fc:node:<node id>`      | string | node registration as JSON, with a TTL (`PX`)       |
//! | `fc:signing-keys`        | hash   | kid → public playback signing key (JWK) as JSON    |
//! | `fc:recorded`            | set    | ids of streams seen with recordings (the reaper's) |
//! | `fc:rec:ready:<id>:<gen>`| string | claim: this recording's `ready` event was emitted  |
//! | `fc:rec:reap:<id>:<gen>` | string | claim (`PX`): a replica is deleting this recording |
//!
//! The recordings themselves live in the segment index (`ferrocast_store::keys`).

use ferrocast_base::{Epoch, PlaybackId, StreamId};

/// The set of all stream ids.
pub const STREAMS: &str = "fc:streams";

/// The set of registered node ids; members whose registration expired are pruned on read.
pub const NODES: &str = "fc:nodes";

/// The public halves of the playback signing keys, by kid (ADR 22).
pub const SIGNING_KEYS: &str = "fc:signing-keys";
/// Streams seen with recordings: the reaper also visits these, so a deleted stream's
/// recordings still expire.
pub const RECORDED: &str = "fc:recorded";

/// Claim of a recording's `ready` event.
pub fn recording_ready(stream_id: &StreamId, generation: Epoch) -> String {
    format!("fc:rec:ready:{stream_id}:{generation}")
}

/// Claim of a recording's deletion.
pub fn recording_reap(stream_id: &StreamId, generation: Epoch) -> String {
    format!("fc:rec:reap:{stream_id}:{generation}")
}

/// A stream's record.
pub fn stream(stream_id: &StreamId) -> String {
    format!("fc:stream:{stream_id}")
}

/// A playback id's stream id.
pub fn playback(playback_id: &PlaybackId) -> String {
    format!("fc:playback:{playback_id}")
}

/// A stream's epoch counter. It outlives the stream so epochs never repeat for an id.
pub fn epoch(stream_id: &StreamId) -> String {
    format!("fc:epoch:{stream_id}")
}

/// A live stream's placement lease.
pub fn lease(stream_id: &StreamId) -> String {
    format!("fc:lease:{stream_id}")
}

/// The origin granted a stream's newest epoch: only it may restore that lapsed lease.
pub fn holder(stream_id: &StreamId) -> String {
    format!("fc:holder:{stream_id}")
}

/// A node's registration.
pub fn node(node_id: &str) -> String {
    format!("fc:node:{node_id}")
}

#[cfg(test)]
mod tests {
    use ferrocast_base::{PlaybackId, StreamId};

    #[test]
    fn layout() {
        let ab = &StreamId::new("ab");
        assert_eq!(super::stream(ab), "fc:stream:ab");
        assert_eq!(super::playback(&PlaybackId::new("p")), "fc:playback:p");
        assert_eq!(super::epoch(ab), "fc:epoch:ab");
        assert_eq!(super::lease(ab), "fc:lease:ab");
        assert_eq!(super::holder(ab), "fc:holder:ab");
        assert_eq!(super::node("n1"), "fc:node:n1");
    }
}
