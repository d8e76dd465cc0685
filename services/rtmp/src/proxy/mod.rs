//! PROXY protocol (v1 text and v2 binary) on the RTMP listener: behind an L4 load balancer,
//! the header is how the server learns the client's address, which the per-address cap, the
//! connection's log span and its metrics then use.
//!
//! [`parse`] is sans-I/O (bytes in, progress out) so fuzzers and tests can drive it directly;
//! [`read_header`] feeds it from a socket, never reading past the header.

mod parse;
mod read;

pub use parse::{
    Accept, Header, MAX_HEADER, MAX_V1_HEADER, MAX_V2_PAYLOAD, Progress, ProxyError, Version, parse,
};
pub use read::{ReadError, read_header};

#[cfg(test)]
mod tests;
