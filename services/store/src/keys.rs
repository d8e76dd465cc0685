//! Every storage key layout in one place.
//!
//! Objects: `<prefix>/<stream>/<epoch>/<seq>.ts`, where `seq` is the writing session's own
//! segment counter (not the msn, which is assigned only when the segment is listed). Keys are
//! never reused: epochs only grow, the epoch fences every other writer out, and a session
//! counts each segment it produced once, so a (stream, epoch, seq) triple is written once.
//!
//! Redis index, per stream (the `{<stream>}` hash tag puts both keys of a stream in one
//! cluster slot, so one Lua script may touch both atomically):
//! - `fc:idx:{<stream>}:meta` — hash: `epoch`, `generation`, `ended` (`0`/`1`),
//!   `discontinuity_base`, `last_msn` and `last_epoch` (absent until the first append);
//! - `fc:idx:{<stream>}:segs` — list of encoded segment records, oldest first;
//! - channel [`INDEX_CHANGED_CHANNEL`] carries the id of every stream whose index changed.

use ferrocast_base::{Epoch, StreamId};
use object_store::path::Path;

/// The object key of the media segment `seq` of the session `epoch`.
pub fn segment(prefix: &str, stream_id: &StreamId, epoch: Epoch, seq: u64) -> Path {
    let name = format!("{stream_id}/{epoch}/{seq}.ts");
    if prefix.is_empty() {
        Path::from(name)
    } else {
        Path::from(format!("{prefix}/{name}"))
    }
}

/// The pub/sub channel on which every index write announces its stream id.
pub const INDEX_CHANGED_CHANNEL: &str = "fc:idx:changed";

/// The Redis hash holding a stream's epoch, ended flag and counters.
pub fn index_meta(stream_id: &StreamId) -> String {
    format!("fc:idx:{{{stream_id}}}:meta")
}

/// The Redis list holding a stream's retained segment records.
pub fn index_segments(stream_id: &StreamId) -> String {
    format!("fc:idx:{{{stream_id}}}:segs")
}

#[cfg(test)]
mod tests {
    use ferrocast_base::{Epoch, StreamId};

    #[test]
    fn index_key_layout_shares_a_hash_tag() {
        let stream = StreamId::new("st_1");
        assert_eq!(super::index_meta(&stream), "fc:idx:{st_1}:meta");
        assert_eq!(super::index_segments(&stream), "fc:idx:{st_1}:segs");
    }

    #[test]
    fn segment_key_layout() {
        let stream = StreamId::new("st_1");
        assert_eq!(
            super::segment("live", &stream, Epoch(3), 42).as_ref(),
            "live/st_1/3/42.ts"
        );
        assert_eq!(
            super::segment("", &stream, Epoch(3), 42).as_ref(),
            "st_1/3/42.ts"
        );
    }
}
