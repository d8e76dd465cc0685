//! The segment index: for each stream, the segments its playlist may list, fenced by epoch.
//!
//! Rules this boundary enforces (every implementation, and the contract tests):
//! - a write carries the writer's epoch and is refused if a newer epoch has opened a session
//!   (one writer per stream, a zombie origin cannot write after a takeover);
//! - media sequence numbers only grow, across sessions and writers;
//! - the caller appends a segment only after its object is stored (object before index).
//!
//! Every index also announces which streams changed ([`SegmentIndex::changes`]), so readers
//! can cache playlists and refresh them on a notification instead of polling.

use async_trait::async_trait;
use tokio::sync::broadcast;

/// The [`SegmentIndex::changes`] value meaning "anything may have changed": notifications may
/// have been lost (e.g. a reconnect), so every cached state must be dropped.
pub const CHANGED_ANYTHING: &str = "";

/// One listed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    /// Media sequence number, unique and increasing within the stream.
    pub msn: u64,
    /// Epoch of the session that wrote it (part of its object key).
    pub epoch: u64,
    /// The session's own segment counter; names the object together with `epoch`.
    pub seq: u64,
    /// Object size in bytes (0 when unknown).
    pub bytes: u64,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Wall-clock time of its first frame, Unix milliseconds.
    pub program_date_time_ms: i64,
    /// First segment of a session that follows an earlier one.
    pub discontinuity: bool,
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
    pub epoch: u64,
    /// The epoch of the session that started the current playlist.
    pub generation: u64,
}

/// Where a new session continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStart {
    /// Media sequence number of the session's first segment.
    pub next_msn: u64,
    /// The first segment must carry a discontinuity (an earlier session exists).
    pub discontinuity: bool,
}

/// Why an index operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    /// A newer epoch owns the stream; this writer is fenced out.
    #[error("stale epoch {offered}: stream is owned by epoch {current}")]
    StaleEpoch {
        /// The epoch the caller wrote with.
        offered: u64,
        /// The epoch that owns the stream.
        current: u64,
    },
    /// The append would not increase the media sequence.
    #[error("media sequence {offered} does not follow {last}")]
    SequenceRewind {
        /// The msn offered.
        offered: u64,
        /// The newest listed msn.
        last: u64,
    },
    /// The index backend failed or timed out.
    #[error("index unavailable: {0}")]
    Unavailable(String),
}

/// A per-stream segment index.
#[async_trait]
pub trait SegmentIndex: Send + Sync {
    /// Opens a publish session under `epoch`, fencing out every older epoch.
    async fn open_session(&self, stream_id: &str, epoch: u64) -> Result<SessionStart, IndexError>;

    /// Lists a stored segment, then trims the oldest beyond `retain`; returns the trimmed ones
    /// so their objects can be deleted.
    async fn append(
        &self,
        stream_id: &str,
        record: SegmentRecord,
        retain: usize,
    ) -> Result<Vec<SegmentRecord>, IndexError>;

    /// Marks the session of `epoch` ended.
    async fn close_session(&self, stream_id: &str, epoch: u64) -> Result<(), IndexError>;

    /// The stream's current state; `None` if it never had a session.
    async fn load(&self, stream_id: &str) -> Result<Option<IndexState>, IndexError>;

    /// Ids of streams whose state changed, sent after each successful write (by any writer
    /// this index can hear). [`CHANGED_ANYTHING`] (and a lagged receiver) means notifications
    /// may have been missed: treat every stream as changed.
    fn changes(&self) -> broadcast::Receiver<String>;
}
