//! Recordings (live to VOD, ADR 21): each playlist generation of a stream whose publisher
//! records is kept as a recording, a log of its segment records beside the live listing.
//!
//! The log is appended by the same index write that lists a segment (so "object before index"
//! holds for it too), is msn-contiguous from its first segment, and stops growing for good at
//! its cap or when a session of the generation does not record. Segments a recording holds
//! are never handed back for deletion by the live window's trim nor by a new generation's
//! retirement: their objects live until the recording is deleted, which happens in three
//! idempotent steps — [`crate::SegmentIndex::retire_recording`] (no longer served; the live
//! listing of an ended generation is cleared with it), deleting the objects, then
//! [`crate::SegmentIndex::forget_recording`].

use ferrocast_base::{Epoch, Msn, StreamId};

use crate::index::SegmentRecord;

/// The most segments one recording's log holds, whatever its duration cap: a bound on the
/// log's memory (about 8 MB in Redis) when segments are short.
pub const MAX_RECORDING_SEGMENTS: u64 = 100_000;

/// Longest recording id accepted: a stream id (at most 128 characters) and an epoch.
const MAX_RECORDING_ID_LEN: usize = 160;

/// A recording's public id, `rec_<stream id>_<generation>`: URL-safe, stable, and enough to
/// find it without a lookup table.
pub fn recording_id(stream_id: &StreamId, generation: Epoch) -> String {
    format!("rec_{stream_id}_{generation}")
}

/// The stream and generation a recording id names; `None` for anything that is not one
/// (the stream id must be letters, digits, `-` and `_`; the generation canonical decimal).
pub fn parse_recording_id(id: &str) -> Option<(StreamId, Epoch)> {
    if id.len() > MAX_RECORDING_ID_LEN {
        return None;
    }
    let (stream, generation) = id.strip_prefix("rec_")?.rsplit_once('_')?;
    let safe = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
    if stream.is_empty() || !stream.bytes().all(safe) {
        return None;
    }
    let number: u64 = generation.parse().ok()?;
    // One spelling per recording: `07` or `+7` would be a second URL for the same one.
    if number.to_string() != generation {
        return None;
    }
    Some((StreamId::new(stream), Epoch(number)))
}

/// How a publish session records, from its grant; `None` at an append means "not recording".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingPolicy {
    /// How long the recording is kept after it ended, in milliseconds.
    pub retention_ms: u64,
    /// The longest a recording grows, in milliseconds of media; past it the recording stops.
    pub max_duration_ms: u64,
}

/// What a recording is, without its segment list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The playlist generation it records (the epoch of the session that started it).
    pub generation: Epoch,
    /// Its first segment's msn.
    pub first_msn: Msn,
    /// Its newest segment's msn; `None` while it has none.
    pub last_msn: Option<Msn>,
    /// Wall-clock time of its first frame, Unix ms.
    pub started_at_ms: i64,
    /// Wall-clock time its newest segment's media ends, Unix ms.
    pub media_end_ms: i64,
    /// When its playlist ended (`EXT-X-ENDLIST`), Unix ms; `None` while it records.
    pub ended_at_ms: Option<i64>,
    /// Segments in its log.
    pub segments: u64,
    /// Their total duration in milliseconds.
    pub duration_ms: u64,
    /// Their total size in bytes (TS objects).
    pub bytes: u64,
    /// Segments that carry `EXT-X-DISCONTINUITY` (encoder reconnects, dropped segments).
    pub discontinuities: u64,
    /// How long it is kept after it ended, in milliseconds.
    pub retention_ms: u64,
    /// Segments of the generation listed after the recording stopped (cap reached, or a
    /// session that did not record).
    pub skipped_segments: u64,
    /// It stopped growing before its playlist ended.
    pub stopped: bool,
    /// Its deletion has started: it is no longer served.
    pub deleting: bool,
}

impl RecordingSummary {
    /// `ready` (ended) or still `recording`.
    pub fn is_ready(&self) -> bool {
        self.ended_at_ms.is_some()
    }

    /// When it expires, Unix ms; `None` while it records.
    pub fn expires_at_ms(&self) -> Option<i64> {
        let retention = i64::try_from(self.retention_ms).unwrap_or(i64::MAX);
        self.ended_at_ms
            .map(|ended| ended.saturating_add(retention))
    }

    /// Whether it has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms()
            .is_some_and(|expires| expires <= now_ms)
    }

    /// Whether it may be served at `now_ms`: not being deleted, not expired.
    pub fn is_servable(&self, now_ms: i64) -> bool {
        !self.deleting && !self.is_expired(now_ms)
    }

    /// Whether the listed record `msn` is one of its segments.
    pub fn holds(&self, msn: Msn) -> bool {
        self.last_msn
            .is_some_and(|last| self.first_msn <= msn && msn <= last)
    }
}

/// A recording with its segments, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// What it is.
    pub summary: RecordingSummary,
    /// Its segment records, msn-contiguous.
    pub segments: Vec<SegmentRecord>,
}

/// The answer to [`crate::SegmentIndex::retire_recording`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retired {
    /// No such recording (never made, or already forgotten).
    Unknown,
    /// It is still recording: only an ended recording may be deleted.
    Busy,
    /// It is no longer served. `recording` lists its segments; `cleared` the records of its
    /// generation's live listing that were removed with it (the generation was the stream's
    /// ended playlist), whose objects go too.
    Retired {
        /// The recording, as it was.
        recording: Recording,
        /// Live listing records removed with it.
        cleared: Vec<SegmentRecord>,
    },
}

/// The recording-aware part of the rules, shared by the in-process indexes.
pub(crate) mod rules {
    use super::*;

    /// One recording in an in-process index.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Log {
        pub(crate) summary: RecordingSummary,
        pub(crate) records: Vec<SegmentRecord>,
    }

    impl Log {
        /// A recording of `generation` that starts with `first` (not yet added).
        pub(crate) fn start(
            generation: Epoch,
            first: &SegmentRecord,
            policy: RecordingPolicy,
        ) -> Self {
            Self {
                summary: RecordingSummary {
                    generation,
                    first_msn: first.msn,
                    started_at_ms: first.program_date_time_ms,
                    media_end_ms: first.program_date_time_ms,
                    retention_ms: policy.retention_ms,
                    ..RecordingSummary::default()
                },
                records: Vec::new(),
            }
        }

        /// Adds `record` (just listed in the generation), or stops the recording for good
        /// when the record does not follow its newest, does not fit its cap, or `policy`
        /// does not record.
        pub(crate) fn add(&mut self, record: &SegmentRecord, policy: Option<RecordingPolicy>) {
            let summary = &mut self.summary;
            let follows = match summary.last_msn {
                Some(last) => last.next() == record.msn,
                None => summary.first_msn == record.msn,
            };
            let fits = |policy: RecordingPolicy| {
                summary.duration_ms.saturating_add(record.duration_ms) <= policy.max_duration_ms
                    && summary.segments < MAX_RECORDING_SEGMENTS
            };
            match policy {
                Some(policy) if !summary.stopped && follows && fits(policy) => {
                    summary.last_msn = Some(record.msn);
                    summary.media_end_ms = media_end(record);
                    summary.retention_ms = policy.retention_ms;
                    summary.segments += 1;
                    summary.duration_ms += record.duration_ms;
                    summary.bytes += record.bytes;
                    summary.discontinuities += u64::from(record.discontinuity);
                    self.records.push(record.clone());
                }
                _ => {
                    summary.stopped = true;
                    summary.skipped_segments += 1;
                }
            }
        }
    }

    /// The records of `released` that `log` does not hold (their objects may be deleted).
    pub(crate) fn not_held(log: Option<&Log>, released: Vec<SegmentRecord>) -> Vec<SegmentRecord> {
        match log {
            Some(log) => released
                .into_iter()
                .filter(|record| !log.summary.holds(record.msn))
                .collect(),
            None => released,
        }
    }

    fn media_end(record: &SegmentRecord) -> i64 {
        let duration = i64::try_from(record.duration_ms).unwrap_or(i64::MAX);
        record.program_date_time_ms.saturating_add(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_ids_round_trip_in_one_spelling() {
        let stream = StreamId::new("a1b2_c3");
        let id = recording_id(&stream, Epoch(42));
        assert_eq!(id, "rec_a1b2_c3_42");
        assert_eq!(parse_recording_id(&id), Some((stream, Epoch(42))));
        for bad in [
            "",
            "rec_",
            "rec__1",
            "rec_ab_",
            "rec_ab_07",
            "rec_ab_+7",
            "rec_a/b_1",
            "rec_ab_x",
            "xrec_ab_1",
            "rec_ab_99999999999999999999",
        ] {
            assert_eq!(parse_recording_id(bad), None, "{bad}");
        }
        assert_eq!(
            parse_recording_id(&format!("rec_{}_1", "a".repeat(200))),
            None
        );
    }
}
