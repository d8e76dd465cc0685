//! What every ferrocast crate shares: the identities that cross crate boundaries, typed so
//! that the compiler keeps them apart (a stream id is never a playback id, and neither is
//! ever a stream key), and one poison-tolerant lock.

mod ids;
mod policy;
mod sync;

pub use ids::{Epoch, Msn, PlaybackId, StreamId};
pub use policy::PlaybackPolicy;
pub use sync::lock;
