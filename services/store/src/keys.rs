//! Every storage key layout in one place.
//!
//! Objects: `<prefix>/<stream>/<epoch>/<seq>.ts`, where `seq` is the writing session's own
//! segment counter (not the msn, which is assigned only when the segment is listed). Keys are
//! never reused: epochs only grow, the epoch fences every other writer out, and a session
//! counts each segment it produced once, so a (stream, epoch, seq) triple is written once.
//! The CMAF rendition of the same segment (ADR 16) is one object per track,
//! `<prefix>/<stream>/<epoch>/<seq>.<track>.m4s`, and each track's init segments are
//! `<prefix>/<stream>/<epoch>/init.<version>.<track>.mp4` (`track` = `video`/`audio`).
//!
//! Redis index, per stream (the `{<stream>}` hash tag puts both keys of a stream in one
//! cluster slot, so one Lua script may touch both atomically):
//! - `fc:idx:{<stream>}:meta` — hash: `epoch`, `generation`, `ended` (`0`/`1`),
//!   `discontinuity_base`, `last_msn` and `last_epoch` (absent until the first append);
//! - `fc:idx:{<stream>}:segs` — list of encoded segment records, oldest first;
//! - `fc:idx:{<stream>}:recs` — set of the generations that have a recording (ADR 21);
//! - `fc:idx:{<stream>}:rec:<generation>` — list: the recording's segment records;
//! - `fc:idx:{<stream>}:recmeta:<generation>` — hash: the recording's summary (`first_msn`,
//!   `last_msn`, `started_at_ms`, `media_end_ms`, `ended_at_ms`, `segments`, `duration_ms`,
//!   `bytes`, `discontinuities`, `retention_ms`, `skipped`, `stopped`, `deleting`);
//! - channel [`INDEX_CHANGED_CHANNEL`] carries the id of every stream whose index changed.

use ferrocast_base::{Epoch, StreamId};
use ferrocast_media::cmaf::TrackKind;
use object_store::path::Path;

/// One object a publish session writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionObject {
    /// The MPEG-TS segment `seq`.
    Ts {
        /// The session's segment counter.
        seq: u64,
    },
    /// One CMAF track's segment `seq` (the same media as the TS segment `seq`).
    CmafSegment {
        /// The session's segment counter.
        seq: u64,
        /// The track.
        track: TrackKind,
    },
    /// One CMAF track's init segment.
    CmafInit {
        /// The init segment's version within the session (0, then 1 after a codec change…).
        version: u32,
        /// The track.
        track: TrackKind,
    },
}

/// The object key of `object` of the session `epoch`.
pub fn object(prefix: &str, stream_id: &StreamId, epoch: Epoch, object: SessionObject) -> Path {
    let file = match object {
        SessionObject::Ts { seq } => format!("{seq}.ts"),
        SessionObject::CmafSegment { seq, track } => format!("{seq}.{}.m4s", track.name()),
        SessionObject::CmafInit { version, track } => {
            format!("init.{version}.{}.mp4", track.name())
        }
    };
    under_prefix(prefix, format!("{stream_id}/{epoch}/{file}"))
}

/// The object key of the media segment `seq` of the session `epoch`.
pub fn segment(prefix: &str, stream_id: &StreamId, epoch: Epoch, seq: u64) -> Path {
    object(prefix, stream_id, epoch, SessionObject::Ts { seq })
}

/// The object key of the CMAF segment `seq` of `track` of the session `epoch`.
pub fn cmaf_segment(
    prefix: &str,
    stream_id: &StreamId,
    epoch: Epoch,
    seq: u64,
    track: TrackKind,
) -> Path {
    object(
        prefix,
        stream_id,
        epoch,
        SessionObject::CmafSegment { seq, track },
    )
}

/// The object key of the init segment `version` of `track` of the session `epoch`.
pub fn cmaf_init(
    prefix: &str,
    stream_id: &StreamId,
    epoch: Epoch,
    version: u32,
    track: TrackKind,
) -> Path {
    object(
        prefix,
        stream_id,
        epoch,
        SessionObject::CmafInit { version, track },
    )
}

/// Where the objects of every session of a stream live (`<prefix>/<stream>/`).
pub fn stream_objects(prefix: &str, stream_id: &StreamId) -> Path {
    under_prefix(prefix, stream_id.to_string())
}

/// Where the objects of the session `epoch` of a stream live (`<prefix>/<stream>/<epoch>/`).
pub fn session_objects(prefix: &str, stream_id: &StreamId, epoch: Epoch) -> Path {
    under_prefix(prefix, format!("{stream_id}/{epoch}"))
}

/// Whether `name` (the last part of a key) is a CMAF init segment's.
pub fn is_cmaf_init(name: &str) -> bool {
    name.starts_with("init.") && name.ends_with(".mp4")
}

fn under_prefix(prefix: &str, name: String) -> Path {
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

/// What every index key of a stream starts with; the scripts name a recording's keys from it.
pub fn index_prefix(stream_id: &StreamId) -> String {
    format!("fc:idx:{{{stream_id}}}:")
}

/// The Redis set of the generations of a stream that have a recording.
pub fn recordings(stream_id: &StreamId) -> String {
    format!("{}recs", index_prefix(stream_id))
}

/// The Redis list of a recording's segment records.
pub fn recording_log(stream_id: &StreamId, generation: Epoch) -> String {
    format!("{}rec:{generation}", index_prefix(stream_id))
}

/// The Redis hash of a recording's summary.
pub fn recording_meta(stream_id: &StreamId, generation: Epoch) -> String {
    format!("{}recmeta:{generation}", index_prefix(stream_id))
}

#[cfg(test)]
mod tests {
    use ferrocast_base::{Epoch, StreamId};

    #[test]
    fn index_key_layout_shares_a_hash_tag() {
        let stream = StreamId::new("st_1");
        assert_eq!(super::index_meta(&stream), "fc:idx:{st_1}:meta");
        assert_eq!(super::index_segments(&stream), "fc:idx:{st_1}:segs");
        assert_eq!(super::recordings(&stream), "fc:idx:{st_1}:recs");
        assert_eq!(
            super::recording_log(&stream, Epoch(7)),
            "fc:idx:{st_1}:rec:7"
        );
        assert_eq!(
            super::recording_meta(&stream, Epoch(7)),
            "fc:idx:{st_1}:recmeta:7"
        );
    }

    #[test]
    fn cmaf_key_layout() {
        use ferrocast_media::cmaf::TrackKind;
        let stream = StreamId::new("st_1");
        assert_eq!(
            super::cmaf_segment("live", &stream, Epoch(3), 42, TrackKind::Video).as_ref(),
            "live/st_1/3/42.video.m4s"
        );
        assert_eq!(
            super::cmaf_init("live", &stream, Epoch(3), 1, TrackKind::Audio).as_ref(),
            "live/st_1/3/init.1.audio.mp4"
        );
        assert_eq!(super::stream_objects("", &stream).as_ref(), "st_1");
        assert!(super::is_cmaf_init("init.0.video.mp4"));
        assert!(!super::is_cmaf_init("0.video.m4s"));
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
