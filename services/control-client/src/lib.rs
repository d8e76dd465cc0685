//! What origins and edges need of the control plane, without its server side: the
//! boundaries they call ([`PublishAuthorizer`], [`StreamDirectory`], which also answers a
//! stream's playback policy and the keys that sign playback tokens), the gRPC
//! [`ControlClient`] that implements them for the cluster, and the [`heartbeat`] loop that
//! reports a node's liveness and load. Its methods take and answer typed values (ids from
//! `ferrocast_base`, a [`heartbeat::Beat`], a [`LookupBy`] and a [`FoundStream`]); the proto
//! messages are built and read inside this crate only.
//!
//! `ferrocast-control` (the server, and `LocalControl` for `ferrocast dev`) implements the
//! same boundaries. The cluster credential types of [`ferrocast_proto::auth`] a node needs
//! are re-exported here, so a node's wiring never names the proto crate.

mod boundary;
mod client;
pub mod heartbeat;
mod lookup;
mod signing;
pub mod stream_key;
mod timing;

pub use boundary::{
    AuthError, DirectoryError, PublishAuthorizer, PublishGrant, RecordingGrant, StreamDirectory,
};
pub use client::{ClientError, ClientOptions, ControlClient};
pub use ferrocast_proto::auth::{ClusterSecret, NodeCredential, NodeIdentity, Role};
pub use lookup::{FoundStream, LookupBy};
pub use signing::{PlaybackStream, PublicSigningKey};
pub use timing::{DEFAULT_TAKEOVER_AFTER, MAX_DECISION_SLACK};
