//! The stream key format, `sk_<stream id>_<secret>`: the public stream id in front lets a
//! refusal be logged by stream id without ever logging the key. Control makes and checks the
//! secret; a client only reads which stream a key claims.

use ferrocast_base::StreamId;

const PREFIX: &str = "sk_";

/// The key of `stream_id` with `secret` (hex digits, made by control).
pub fn compose(stream_id: &StreamId, secret: &str) -> String {
    format!("{PREFIX}{stream_id}_{secret}")
}

/// The stream id a key claims to belong to, if it is well formed. Says nothing about validity.
pub fn claimed_stream_id(key: &str) -> Option<StreamId> {
    let rest = key.strip_prefix(PREFIX)?;
    let (stream_id, secret) = rest.split_once('_')?;
    let well_formed = !stream_id.is_empty()
        && !secret.is_empty()
        && stream_id.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| StreamId::new(stream_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_composed_key_claims_its_stream() {
        let stream = StreamId::new("ab12");
        assert_eq!(claimed_stream_id(&compose(&stream, "ff00")), Some(stream));
    }

    #[test]
    fn malformed_keys_claim_nothing() {
        for key in ["", "sk_", "sk_abc", "sk__x", "sk_zz_x", "abc_def", "sk_ab_"] {
            assert_eq!(claimed_stream_id(key), None, "{key}");
        }
    }
}
