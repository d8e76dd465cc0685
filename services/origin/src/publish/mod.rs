//! Publishing on this origin: one accepted publish ([`PublishSession`], feeding the hub, the
//! HLS packager and the uploader), and the registry of the publishes running here
//! ([`Publishing`], for heartbeats, load reports and take-overs).

mod registry;
mod session;

pub use registry::{PublishReport, PublishStats, Publishing};
pub use session::PublishSession;
pub(crate) use session::unix_millis;
