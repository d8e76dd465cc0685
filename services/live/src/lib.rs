//! Live media fan-out: frames, the per-stream [`Hub`] with its GOP cache, and the
//! [`LiveSource`] boundary through which viewers subscribe.
//!
//! An origin feeds a hub from RTMP ingest; an edge (in the cluster) feeds its own hub from the
//! gRPC relay. Either way a viewer subscribes to a hub and gets the stream's metadata, codec
//! configurations and the current GOP, then live frames, with no gap and no duplicate.
//! Each frame carries its FLV tag and, once an RTMP player asked, its RTMP chunks, both shared;
//! [`ViewerPolicy`] is the skip-don't-buffer rule for viewers that fall behind.

mod batch;
mod frame;
mod hub;
mod registry;
mod viewer_policy;

pub use batch::{Batch, LiveReceiver};
pub use frame::{Frame, FrameKind};
pub use hub::{AUDIO_HOLD_MS, Claim, Hub, HubLimits, Subscription};
pub use registry::{Hubs, LiveError, LiveSource, StreamOwners};
pub use viewer_policy::{BatchVerdict, LiveEdge, Verdict, ViewerLimits, ViewerPolicy};
