//! The segment index: for each stream, the segments its playlist may list, fenced by epoch.
//!
//! Rules this boundary enforces (every implementation, and the contract tests):
//! - a write carries the writer's epoch and is refused if a newer epoch has opened a session
//!   (one writer per stream, a zombie origin cannot write after a takeover);
//! - media sequence numbers only grow, across sessions, writers and playlist generations;
//! - the caller appends a segment only after its object is stored (object before index);
//! - appends are idempotent: re-appending the newest listed record (same msn and epoch) is a
//!   success, so a writer may retry an append whose answer it never got;
//! - a playlist that ended (`EXT-X-ENDLIST`) is never reopened: the next session starts a new
//!   generation, and the records of the ended one are retired (returned for deletion).
//!
//! Every index also announces which streams changed ([`SegmentIndex::changes`]), so readers
//! can cache playlists and refresh them on a notification instead of polling.

use std::sync::Arc;

use async_trait::async_trait;
use ferrocast_base::{Epoch, Msn, StreamId};
use ferrocast_media::cmaf::TrackKind;
use tokio::sync::broadcast;

use crate::recording::{Recording, RecordingPolicy, RecordingSummary, Retired};

/// What a [`SegmentIndex::changes`] notification says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexChange {
    /// This stream's state changed.
    Stream(StreamId),
    /// Anything may have changed: notifications may have been lost (e.g. a reconnect), so
    /// every cached state must be dropped.
    All,
}

/// One listed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    /// Media sequence number, unique and increasing within the stream, contiguous within a
    /// playlist; assigned when the segment is listed.
    pub msn: Msn,
    /// Epoch of the session that wrote it (part of its object key).
    pub epoch: Epoch,
    /// The writing session's own segment counter: with `epoch` it names the object
    /// ([`crate::keys::segment`]), so an object name is never reused.
    pub seq: u64,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Size of the object in bytes (0 when unknown, e.g. a record written before v2).
    pub bytes: u64,
    /// Wall-clock time of its first frame, Unix milliseconds.
    pub program_date_time_ms: i64,
    /// Wall-clock time it was listed, Unix milliseconds (0 when unknown). A segment listed
    /// late (after an outage) stays in the playlist longer: see
    /// `ferrocast_media::hls::window_start`.
    pub listed_at_ms: i64,
    /// Which tracks' CMAF objects were stored with it (ADR 24): what a recording's CMAF
    /// playlists may name. Empty for a record of a session that does not record, or that
    /// was written before layout v3.
    pub cmaf: CmafTracks,
    /// First segment of a session that follows an earlier one.
    pub discontinuity: bool,
}

/// The stored CMAF objects of one segment: per track, the version of the session's init
/// segment its object needs, or `None` when that track's object (or its init) was not stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CmafTracks {
    /// The video track's init version.
    pub video: Option<u32>,
    /// The audio track's init version.
    pub audio: Option<u32>,
}

impl CmafTracks {
    /// The init version of `track`'s stored object.
    pub fn get(&self, track: TrackKind) -> Option<u32> {
        match track {
            TrackKind::Video => self.video,
            TrackKind::Audio => self.audio,
        }
    }

    /// Records `track`'s stored object (`None`: not stored).
    pub fn set(&mut self, track: TrackKind, init_version: Option<u32>) {
        match track {
            TrackKind::Video => self.video = init_version,
            TrackKind::Audio => self.audio = init_version,
        }
    }
}

/// Everything a playlist is rendered from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexState {
    /// Retained segments, oldest first.
    pub segments: Vec<SegmentRecord>,
    /// Discontinuities already trimmed from `segments`.
    pub discontinuity_base: u64,
    /// The last session ended (the playlist gets `EXT-X-ENDLIST`).
    pub ended: bool,
    /// The newest epoch that opened a session.
    pub epoch: Epoch,
    /// The epoch of the session that started the current playlist: a session that opens
    /// after the playlist ended starts a new generation (a new playlist URL).
    pub generation: Epoch,
}

/// Where a new session continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStart {
    /// Media sequence number of the session's first segment.
    pub next_msn: Msn,
    /// The first segment must carry a discontinuity (the playlist already lists segments).
    pub discontinuity: bool,
    /// Records of an ended playlist that this session's new generation removed from the
    /// listing: their objects are no longer named by any playlist and may be deleted.
    pub retired: Vec<SegmentRecord>,
}

/// Why an index operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    /// A newer epoch owns the stream; this writer is fenced out.
    #[error("stale epoch {offered}: stream is owned by epoch {current}")]
    StaleEpoch {
        /// The epoch the caller wrote with.
        offered: Epoch,
        /// The epoch that owns the stream.
        current: Epoch,
    },
    /// The append would not increase the media sequence.
    #[error("media sequence {offered} does not follow {last}")]
    SequenceRewind {
        /// The msn offered.
        offered: Msn,
        /// The newest listed msn.
        last: Msn,
    },
    /// The index backend failed or timed out: a write may or may not have applied.
    #[error("index unavailable: {0}")]
    Unavailable(#[source] BackendError),
}

/// Why the index backend could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// Redis failed: the connection, the script, or too few replicas confirmed a write.
    #[error("redis {operation}: {source}")]
    Redis {
        /// The index operation.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// The embedded index file failed (`ferrocast dev`).
    #[error("disk index: {0}")]
    Disk(#[source] Arc<redb::Error>),
    /// Anything else: no answer in time, or a value that does not decode.
    #[error("{0}")]
    Other(String),
}

/// Callers time index calls out themselves: `IndexError::Unavailable("… timed out".into())`.
impl From<&str> for BackendError {
    fn from(reason: &str) -> Self {
        BackendError::Other(reason.to_owned())
    }
}

impl From<String> for BackendError {
    fn from(reason: String) -> Self {
        BackendError::Other(reason)
    }
}

/// A per-stream segment index.
#[async_trait]
pub trait SegmentIndex: Send + Sync {
    /// Opens a publish session under `epoch`, fencing out every older epoch. On a stream whose
    /// playlist ended, starts a new generation (`generation = epoch`) and retires the listed
    /// records (except those the ended generation's recording holds); otherwise keeps the
    /// listing and the generation. An ended session's own epoch
    /// cannot reopen ([`IndexError::StaleEpoch`]).
    async fn open_session(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
    ) -> Result<SessionStart, IndexError>;

    /// Lists a stored segment, then trims the oldest beyond `retain`; returns the trimmed ones
    /// so their objects can be deleted. Only the epoch that opened the current session may
    /// append, and not after its playlist ended. Re-appending the newest listed record (same
    /// msn and epoch) is `Ok(vec![])`; any other msn not above the newest is
    /// [`IndexError::SequenceRewind`]. Records nothing: [`SegmentIndex::append_recorded`].
    async fn append(
        &self,
        stream_id: &StreamId,
        record: SegmentRecord,
        retain: usize,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        self.append_recorded(stream_id, record, retain, None).await
    }

    /// [`SegmentIndex::append`], and in the same atomic step adds the record to the
    /// generation's recording when `recording` is set (starting the recording at its first
    /// segment), or stops that recording when it is `None` (see [`crate::recording`]). The
    /// trimmed records returned never include one a recording holds.
    async fn append_recorded(
        &self,
        stream_id: &StreamId,
        record: SegmentRecord,
        retain: usize,
        recording: Option<RecordingPolicy>,
    ) -> Result<Vec<SegmentRecord>, IndexError>;

    /// Marks the session of `epoch` ended: its playlist gets `EXT-X-ENDLIST`, for good, and its
    /// generation's recording (if any) becomes ready, stamped with the time. Any
    /// other epoch than the current one is [`IndexError::StaleEpoch`]; a stream that never
    /// had a session is left alone.
    async fn close_session(&self, stream_id: &StreamId, epoch: Epoch) -> Result<(), IndexError>;

    /// The stream's current state; `None` if it never had a session.
    async fn load(&self, stream_id: &StreamId) -> Result<Option<IndexState>, IndexError>;

    /// The stream's recordings, oldest generation first (those being deleted included).
    async fn recordings(&self, stream_id: &StreamId) -> Result<Vec<RecordingSummary>, IndexError>;

    /// One recording with its segments; `None` if unknown.
    async fn recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Option<Recording>, IndexError>;

    /// The record `msn` of a recording, with the recording's summary; `None` if the recording
    /// does not hold it, is unknown, or is being deleted.
    async fn recording_segment(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
        msn: Msn,
    ) -> Result<Option<(RecordingSummary, SegmentRecord)>, IndexError>;

    /// First step of deleting an ended recording: marks it deleted (no longer served) and, if
    /// its generation is the stream's ended playlist, clears that listing. Idempotent.
    async fn retire_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Retired, IndexError>;

    /// Last step of deleting a recording, once its objects are gone: removes its entries.
    /// `true` only for the call that removed them; a recording not retired first is kept.
    async fn forget_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<bool, IndexError>;

    /// The streams whose state changed, each sent after a successful write (by any writer
    /// this index can hear). [`IndexChange::All`] (and a lagged receiver) means notifications
    /// may have been missed: treat every stream as changed.
    fn changes(&self) -> broadcast::Receiver<IndexChange>;
}
