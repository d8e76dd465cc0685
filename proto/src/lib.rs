//! Every gRPC contract of ferrocast, generated at build time from `proto/ferrocast/*.proto`,
//! and the cluster credential every call between roles carries ([`auth`]).

pub mod auth;

/// Control plane: authorization, placement leases, node registry, lookup.
#[allow(missing_docs, clippy::all)] // generated code
pub mod control {
    tonic::include_proto!("ferrocast.control.v1");
}

/// Origin → edge live relay.
#[allow(missing_docs, clippy::all)] // generated code
pub mod relay {
    tonic::include_proto!("ferrocast.relay.v1");
}
