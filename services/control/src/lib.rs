//! The control plane: streams and their secret keys, publish authorization with placement
//! epochs, the node registry, and playback-id lookup.
//!
//! - [`LocalControl`] keeps it all in process for `ferrocast dev`.
//! - [`run`] is the `ferrocast control` role: a gRPC service for origins and edges (each call
//!   carrying its node's cluster credential, [`ferrocast_proto::auth`]) and a REST admin API
//!   for operators, with the state in Redis.
//! - [`LeasePolicy`] holds the placement rules (grant, fast takeover, fenced release and
//!   renewal) once, over a memory or a Redis [`LeaseStore`].
//!
//! Origins and edges reach it through `ferrocast-control-client` (its gRPC client, and the
//! boundaries [`PublishAuthorizer`](ferrocast_control_client::PublishAuthorizer) and
//! [`StreamDirectory`](ferrocast_control_client::StreamDirectory) that [`LocalControl`]
//! implements too), so they never compile this server side.

pub mod credentials;
mod dvr;
pub mod lease;
mod local;
pub mod recordings;
mod retention;
mod server;
mod stream;

pub use dvr::DvrWindow;
pub use lease::{HeldStream, LeasePolicy, LeaseStore, MemoryLeaseStore};
pub use local::LocalControl;
pub use retention::Retention;
pub use server::{
    ControlConfig, MIN_ADMIN_TOKEN_CHARS, RecordingDeps, RecordingsConfig, RedisLeaseStore,
    RepoError, ServerError, connect_redis, metrics, run, run_with, webhooks,
};
pub use stream::StreamRecord;
