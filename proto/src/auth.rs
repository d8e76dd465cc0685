//! The cluster credential: every gRPC call between roles carries one, and the callee learns
//! from it who is calling (docs/adr/0006-cluster-credential.md).
//!
//! Operators set one cluster secret on every node. Each node derives its own credential from
//! it: its role and node id with an HMAC-SHA256 tag over them, keyed by the secret, sent as
//! `authorization: Bearer v1.<role>.<node id>.<tag hex>`. A server holding the same secret
//! recomputes the tag; a call without a credential, or with one this cluster's secret did not
//! make, is refused with `UNAUTHENTICATED` before any handler runs.
//!
//! - [`ClusterSecret`] checks the secret's length, derives credentials and verifies them.
//! - [`NodeCredential`] is a client interceptor that attaches a node's credential to every call.
//! - [`Verifier`] is the server interceptor; it leaves the caller's [`NodeIdentity`] in the
//!   request's extensions, where handlers read it with [`caller`] and check its role with
//!   [`NodeIdentity::require`].

mod credential;
mod interceptor;

pub use credential::{
    ClusterSecret, CredentialError, MAX_NODE_ID_BYTES, MIN_SECRET_CHARS, NodeCredential,
    NodeIdentity, Rejection, Role, SecretError,
};
pub use interceptor::{Verifier, caller};
