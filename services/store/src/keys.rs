//! Every storage key layout in one place.
//!
//! Objects: `<prefix>/<stream>/<epoch>/<msn>.ts`. Keys are immutable: a (stream, epoch, msn)
//! triple is written once, because the epoch fences every other writer out.
//!
//! Redis index, per stream (the `{<stream>}` hash tag puts both keys of a stream in one
//! cluster slot, so one Lua script may touch both atomically):
//! - `fc:idx:{<stream>}:meta` — hash: `epoch`, `ended` (`0`/`1`), `discontinuity_base`,
//!   `last_msn` (absent until the first append);
//! - `fc:idx:{<stream>}:segs` — list of encoded segment records, oldest first;
//! - channel [`INDEX_CHANGED_CHANNEL`] carries the id of every stream whose index changed.

use object_store::path::Path;

/// The object key of a media segment.
pub fn segment(prefix: &str, stream_id: &str, epoch: u64, msn: u64) -> Path {
    let name = format!("{stream_id}/{epoch}/{msn}.ts");
    if prefix.is_empty() {
        Path::from(name)
    } else {
        Path::from(format!("{prefix}/{name}"))
    }
}

/// The pub/sub channel on which every index write announces its stream id.
pub const INDEX_CHANGED_CHANNEL: &str = "fc:idx:changed";

/// The Redis hash holding a stream's epoch, ended flag and counters.
pub fn index_meta(stream_id: &str) -> String {
    format!("fc:idx:{{{stream_id}}}:meta")
}

/// The Redis list holding a stream's retained segment records.
pub fn index_segments(stream_id: &str) -> String {
    format!("fc:idx:{{{stream_id}}}:segs")
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_key_layout_shares_a_hash_tag() {
        assert_eq!(super::index_meta("st_1"), "fc:idx:{st_1}:meta");
        assert_eq!(super::index_segments("st_1"), "fc:idx:{st_1}:segs");
    }

    #[test]
    fn segment_key_layout() {
        assert_eq!(
            super::segment("live", "st_1", 3, 42).as_ref(),
            "live/st_1/3/42.ts"
        );
        assert_eq!(super::segment("", "st_1", 3, 42).as_ref(), "st_1/3/42.ts");
    }
}
