//! The stream object.

use ferrocast_base::{PlaybackId, PlaybackPolicy, StreamId};
use serde::{Deserialize, Serialize};

use crate::{DvrWindow, Retention};

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
    /// Public, or signed (playback needs a token). Records written before the field existed
    /// read as public.
    #[serde(default)]
    pub playback_policy: PlaybackPolicy,
    /// How long its recordings are kept (ADR 21); absent in records written before
    /// recordings, which then follow the control's default.
    #[serde(default)]
    pub recording_retention: Retention,
    /// How far back its live playlist reaches (docs/dvr.md); off in records written before
    /// DVR.
    #[serde(default)]
    pub dvr_window: DvrWindow,
}

impl StreamRecord {
    /// The stored key hash as bytes; `None` if the record is corrupt.
    pub fn key_hash(&self) -> Option<[u8; 32]> {
        let mut hash = [0; 32];
        hex::decode_to_slice(&self.key_sha256, &mut hash).ok()?;
        Some(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_a_policy_is_public() {
        let old = r#"{"id":"s","playback_id":"p","key_sha256":"00","name":"n","created_at_ms":1}"#;
        let record: StreamRecord = serde_json::from_str(old).expect("an old record loads");
        assert_eq!(record.playback_policy, PlaybackPolicy::Public);
        let signed = StreamRecord {
            playback_policy: PlaybackPolicy::Signed,
            ..record
        };
        let json = serde_json::to_string(&signed).unwrap_or_default();
        assert!(json.contains(r#""playback_policy":"signed""#), "{json}");
    }
}
