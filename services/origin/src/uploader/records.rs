//! The segment record fields the uploader writes and reads, in one place.
//!
//! Decision 1 and 2 of issue 11 name objects by the session's `seq` and give the record
//! `seq` and `bytes` fields, and `SessionStart` a `retired` list; those land with the store
//! part. Until then `seq` equals the record's msn for objects written before the change, so
//! these three functions are the only lines that change when the v2 record arrives.

use ferrocast_store::{SegmentRecord, SessionStart};

/// A segment about to be listed.
pub struct Listing {
    /// Media sequence number.
    pub msn: u64,
    /// Writer's epoch.
    pub epoch: u64,
    /// Object sequence number.
    pub seq: u64,
    /// Media duration.
    pub duration_ms: u64,
    /// Object size.
    pub bytes: u64,
    /// Wall-clock time of the first frame, Unix ms.
    pub program_date_time_ms: i64,
    /// Starts a discontinuity.
    pub discontinuity: bool,
}

/// The index record of `listing`.
pub fn record(listing: &Listing) -> SegmentRecord {
    SegmentRecord {
        msn: listing.msn,
        epoch: listing.epoch,
        seq: listing.seq,
        bytes: listing.bytes,
        duration_ms: listing.duration_ms,
        program_date_time_ms: listing.program_date_time_ms,
        discontinuity: listing.discontinuity,
    }
}

/// The sequence number that names `record`'s object.
pub fn object_seq(record: &SegmentRecord) -> u64 {
    record.seq
}

/// Records a new session removed from an ended playlist, whose objects are to be deleted.
pub fn retired(start: &SessionStart) -> Vec<SegmentRecord> {
    let _ = start;
    Vec::new()
}
