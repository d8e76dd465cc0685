//! Publishing on this origin: one accepted publish ([`PublishSession`], feeding the hub, the
//! HLS and CMAF packagers, the part log and the uploader), and the registry of the publishes running here
//! ([`Publishing`], for heartbeats, load reports and take-overs).

mod low_latency;
mod registry;
mod session;

pub(crate) use low_latency::LogEnding;

pub use registry::{PublishReport, PublishStats, Publishing};
pub use session::PublishSession;
pub(crate) use session::unix_millis;
