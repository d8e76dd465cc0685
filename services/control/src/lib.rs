//! The control plane's model and boundaries: streams and their secret keys, publish
//! authorization with placement epochs, and playback-id lookup.
//!
//! [`LocalControl`] keeps all of it in process for `ferrocast dev`; the cluster's control
//! service implements the same traits over gRPC and Redis.

mod boundary;
pub mod credentials;
mod local;
mod stream;

pub use boundary::{AuthError, PublishAuthorizer, PublishGrant, StreamDirectory};
pub use local::LocalControl;
pub use stream::StreamRecord;
