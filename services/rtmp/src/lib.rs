//! Async RTMP server connections on top of `rml_rtmp`.
//!
//! This crate speaks the protocol and nothing else: it performs the handshake, answers the
//! commands that need no decision (connect, createStream, pings, acknowledgements) and yields
//! [`Event`]s. Whether a publish is allowed is the caller's decision ([`Connection::accept`] or
//! [`Connection::reject`]); there is no policy in here. An accepted play turns the connection
//! into a [`Player`], which writes media serialized once by the pure [`chunk`] module and
//! shared by every player.
//!
//! `rml_rtmp` is dormant upstream and panics on some malformed input, so every call into it is
//! wrapped in `catch_unwind`: a panic becomes [`RtmpError::ParserPanicked`] and ends only that
//! connection. [`Limits`] put our own bounds in front of it.

pub mod chunk;
mod connection;
mod error;
mod limits;
mod player;
mod status;
pub mod testing;

pub use connection::{Connection, Event, StreamMetadata};
pub use error::RtmpError;
pub use limits::Limits;
pub use player::Player;
