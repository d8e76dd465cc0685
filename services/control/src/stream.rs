//! The stream object.

use ferrocast_base::{PlaybackId, StreamId};
use serde::{Deserialize, Serialize};

use crate::Retention;

/// A stream as the control plane stores it. The key itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// Internal id, also the public part of the stream key.
    pub id: StreamId,
    /// Public id used in play URLs.
    pub playback_id: PlaybackId,
    /// SHA-256 of the secret stream key, hex.
    pub key_sha256: String,
    /// Human-readable name.
    pub name: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// How long its recordings are kept (ADR 21); absent in records written before
    /// recordings, which then follow the control's default.
    #[serde(default)]
    pub recording_retention: Retention,
}

impl StreamRecord {
    /// The stored key hash as bytes; `None` if the record is corrupt.
    pub fn key_hash(&self) -> Option<[u8; 32]> {
        let mut hash = [0; 32];
        hex::decode_to_slice(&self.key_sha256, &mut hash).ok()?;
        Some(hash)
    }
}
