//! Every gRPC contract of ferrocast, generated at build time from `proto/ferrocast/*.proto`.

#![allow(missing_docs, clippy::all)] // generated code

/// Control plane: authorization, placement leases, node registry, lookup.
pub mod control {
    tonic::include_proto!("ferrocast.control.v1");
}

/// Origin → edge live relay.
pub mod relay {
    tonic::include_proto!("ferrocast.relay.v1");
}
