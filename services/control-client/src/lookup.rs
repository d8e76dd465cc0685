//! A stream lookup in control's registry, typed: what [`crate::ControlClient::lookup`] asks
//! by and answers with. The proto messages are built and read here only.

use ferrocast_base::{Epoch, PlaybackId, PlaybackPolicy, StreamId};
use ferrocast_proto::control::lookup_stream_request::By;
use ferrocast_proto::control::{self as wire, LookupStreamResponse};

/// Which id a lookup goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupBy {
    /// A viewer's public id.
    PlaybackId(PlaybackId),
    /// The stream's internal id.
    StreamId(StreamId),
}

/// A stream control knows, and where it is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundStream {
    /// The stream's internal id.
    pub stream_id: StreamId,
    /// The stream's public playback id.
    pub playback_id: PlaybackId,
    /// Some origin holds its publish lease now.
    pub live: bool,
    /// The origin holding the lease (empty while not live).
    pub origin_id: String,
    /// Where edges reach that origin's relay (empty while not live, or before the origin
    /// registered one).
    pub relay_url: String,
    /// The epoch of the lease (0 while not live).
    pub epoch: Epoch,
    /// Public, or signed: playback needs a token.
    pub playback_policy: PlaybackPolicy,
    /// How far back its live playlist reaches (DVR); zero is off.
    pub dvr_window: std::time::Duration,
}

impl LookupBy {
    /// The wire form.
    pub(crate) fn into_wire(self) -> By {
        match self {
            LookupBy::PlaybackId(id) => By::PlaybackId(id.into_string()),
            LookupBy::StreamId(id) => By::StreamId(id.into_string()),
        }
    }
}

impl FoundStream {
    /// Reads an answer: `None` when control knows no such stream. The ids come from control's
    /// own registry, so they are taken as they are.
    pub(crate) fn from_wire(response: LookupStreamResponse) -> Option<Self> {
        // An unknown value (a policy newer than this node) is read as signed: the safe side.
        let playback_policy = match wire::PlaybackPolicy::try_from(response.playback_policy) {
            Ok(wire::PlaybackPolicy::Public) => PlaybackPolicy::Public,
            Ok(wire::PlaybackPolicy::Signed) | Err(_) => PlaybackPolicy::Signed,
        };
        response.found.then(|| FoundStream {
            stream_id: StreamId::new(response.stream_id),
            playback_id: PlaybackId::new(response.playback_id),
            live: response.live,
            origin_id: response.origin_id,
            relay_url: response.relay_url,
            epoch: Epoch(response.epoch),
            playback_policy,
            dvr_window: std::time::Duration::from_millis(response.dvr_window_ms),
        })
    }
}
