//! The CMAF objects an origin puts into object storage, read through the edge's
//! read-through cache (`EdgeDeps::segments`, single flight per object): a complete segment
//! of one track, or an init segment. Keys per ADR 16 decision 5:
//! `<prefix>/<stream>/<epoch>/<seq>.<track>.m4s` and
//! `<prefix>/<stream>/<epoch>/init.<version>.<track>.mp4`.

use bytes::Bytes;
use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::{SessionObject, StoreError};

use crate::state::Edge;

/// Reads `object` of session `epoch` of `stream_id` through the cache.
pub async fn fetch(
    edge: &Edge,
    stream_id: &StreamId,
    epoch: Epoch,
    object: SessionObject,
) -> Result<Bytes, StoreError> {
    edge.deps
        .segments
        .get_object(stream_id, epoch, object)
        .await
}
