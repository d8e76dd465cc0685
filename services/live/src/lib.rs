//! Live media fan-out: frames, the per-stream [`Hub`] with its GOP cache, and the
//! [`LiveSource`] boundary through which viewers subscribe.
//!
//! An origin feeds a hub from RTMP ingest; an edge (in the cluster) feeds its own hub from the
//! gRPC relay. Either way a viewer subscribes to a hub and gets the stream's metadata, codec
//! configurations and the current GOP, then live frames, with no gap and no duplicate.
//! Each frame carries its FLV tag and, once an RTMP player asked, its RTMP chunks, both shared.
//! A viewer reads through a [`Cursor`]: [`ViewerPolicy`] is its skip-don't-buffer rule for
//! falling behind, and [`ResumeGate`] the one rule for where a receiver may rejoin a stream.

mod batch;
mod cursor;
mod egress;
mod frame;
mod hub;
pub mod lane;
mod parts;
mod registry;
mod resume;
mod viewer_policy;

pub use batch::{Batch, LiveReceiver};
pub use cursor::{Cursor, Step};
pub use egress::Egress;
pub use frame::{Frame, FrameKind, FrameRole};
pub use hub::{AUDIO_HOLD_MS, Claim, Hub, HubLimits, Subscription};
pub use parts::{LogChannel, PartLogs, PartSource};
pub use registry::{Hubs, LiveError, LiveSource, UpstreamError};
pub use resume::{GateVerdict, ResumeGate};
pub use viewer_policy::{BatchVerdict, LiveEdge, Verdict, ViewerLimits, ViewerPolicy};
