//! Stream ids, playback ids and stream keys.
//!
//! A stream key is `sk_<stream id>_<secret>` ([`ferrocast_control_client::stream_key`]); the
//! 192-bit secret is random and only its SHA-256 is stored, compared in constant time.

use ferrocast_base::{PlaybackId, StreamId};
use ferrocast_control_client::stream_key;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use ferrocast_control_client::stream_key::claimed_stream_id;

/// A new random stream id (public, 12 hex digits).
pub fn new_stream_id() -> StreamId {
    StreamId::new(random_hex(6))
}

/// A new random playback id (public, 16 hex digits), unrelated to the stream id.
pub fn new_playback_id() -> PlaybackId {
    PlaybackId::new(random_hex(8))
}

/// A new secret stream key for `stream_id`.
pub fn new_stream_key(stream_id: &StreamId) -> String {
    stream_key::compose(stream_id, &random_hex(24))
}

/// SHA-256 of a stream key: what is stored instead of the key.
pub fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// SHA-256 of a stream key, hex: the stored form.
pub fn key_hash_hex(key: &str) -> String {
    hex::encode(key_hash(key))
}

/// Whether `key` hashes to `expected`, in constant time.
pub fn key_matches(key: &str, expected: &[u8; 32]) -> bool {
    key_hash(key).ct_eq(expected).into()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_name_their_stream() {
        let id = new_stream_id();
        let key = new_stream_key(&id);
        assert_ne!(key, new_stream_key(&id));
        assert_eq!(claimed_stream_id(&key), Some(id));
        assert!(key_matches(&key, &key_hash(&key)));
        assert!(!key_matches("sk_x_y", &key_hash(&key)));
    }
}
