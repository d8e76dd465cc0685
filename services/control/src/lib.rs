//! The control plane: streams and their secret keys, publish authorization with placement
//! epochs, the node registry, and playback-id lookup.
//!
//! - [`LocalControl`] keeps it all in process for `ferrocast dev`.
//! - [`run`] is the `ferrocast control` role: a gRPC service for origins and edges (each call
//!   carrying its node's cluster credential, [`ferrocast_proto::auth`]) and a REST admin API
//!   for operators, with the state in Redis.
//! - [`ControlClient`] is what origins and edges use to reach it; it implements the same
//!   traits as [`LocalControl`].

mod boundary;
mod client;
pub mod credentials;
mod local;
mod server;
mod stream;

pub use boundary::{AuthError, DirectoryError, PublishAuthorizer, PublishGrant, StreamDirectory};
pub use client::{ClientError, ClientOptions, ControlClient};
pub use local::LocalControl;
pub use server::{
    ControlConfig, MIN_ADMIN_TOKEN_CHARS, RepoError, ServerError, connect_redis, metrics, run,
};
pub use stream::StreamRecord;
