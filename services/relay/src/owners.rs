//! Which origin owns a live stream: what an edge asks before it subscribes upstream. In the
//! cluster the binary answers from control (its client adapted to [`StreamOwners`]); `dev`
//! answers for its one origin behind the loopback relay.

use async_trait::async_trait;
use ferrocast_base::StreamId;

/// Finds which origin owns a live stream, for edges that relay from it.
#[async_trait]
pub trait StreamOwners: Send + Sync {
    /// The relay URL (`http://host:port`) of the origin publishing `stream_id`; `Ok(None)`
    /// when the stream is not live.
    async fn relay_url(&self, stream_id: &StreamId) -> Result<Option<String>, OwnersError>;
}

/// Why the owner of a stream could not be looked up. "Not live" is not an error (`Ok(None)`).
#[derive(Debug, thiserror::Error)]
pub enum OwnersError {
    /// The owner registry could not answer now (unreachable, or no answer in time); the
    /// stream may well be live.
    #[error("stream owners unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}
