//! The CMAF objects an origin puts into object storage, read through the edge's
//! read-through cache (`EdgeDeps::segments`, single flight per object): a complete segment
//! of one track, or an init segment. Keys per ADR 16 decision 5:
//! `<prefix>/<stream>/<epoch>/<seq>.<track>.m4s` and
//! `<prefix>/<stream>/<epoch>/init.<version>.<track>.mp4`.

use bytes::Bytes;
use ferrocast_base::{Epoch, StreamId};
use ferrocast_media::cmaf::TrackKind;
use ferrocast_store::{SessionObject, StoreError};

use crate::state::Edge;

/// A CMAF object in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// An init segment.
    Init {
        /// Session.
        epoch: Epoch,
        /// Init version within the session.
        version: u32,
        /// Track.
        track: TrackKind,
    },
    /// A complete segment of one track.
    Segment {
        /// Session.
        epoch: Epoch,
        /// Segment number within the session.
        seq: u64,
        /// Track.
        track: TrackKind,
    },
}

/// Reads `object` of `stream_id` through the cache.
pub async fn fetch(edge: &Edge, stream_id: &StreamId, object: Stored) -> Result<Bytes, StoreError> {
    let (epoch, object) = match object {
        Stored::Init {
            epoch,
            version,
            track,
        } => (epoch, SessionObject::CmafInit { version, track }),
        Stored::Segment { epoch, seq, track } => (epoch, SessionObject::CmafSegment { seq, track }),
    };
    edge.deps
        .segments
        .get_object(stream_id, epoch, object)
        .await
}
