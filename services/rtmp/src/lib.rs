//! Async RTMP server connections on top of `rml_rtmp`.
//!
//! This crate speaks the protocol and nothing else: it performs the handshake, answers the
//! commands that need no decision (connect, createStream, pings, acknowledgements) and yields
//! [`Event`]s. Whether a publish is allowed is the caller's decision ([`Connection::accept`] or
//! [`Connection::reject`]); there is no policy in here. An accepted play turns the connection
//! into a [`Player`], which writes media serialized once by the pure
//! [`ferrocast_media::rtmp_chunk`] module and shared by every player.
//!
//! `rml_rtmp` is dormant upstream, decodes AMF0 recursively and panics on some malformed
//! input, so it never reads the network itself. Our own sans-I/O front does: the
//! [`handshake`] is framed by us, the [`reader`] turns the chunk stream into whole messages
//! within [`Limits`], and the [`front`] screens each message (bounded AMF0, exact control
//! message sizes, capped commands) before it reaches `rml_rtmp` as one whole chunk. The
//! [`Session`] joins the two without I/O, so fuzzers can drive it; `catch_unwind` around each
//! call into `rml_rtmp` stays as the last line, turning a panic into
//! [`RtmpError::ParserPanicked`] for that connection alone. No `rml_rtmp` type leaves this
//! crate: the publisher's `onMetaData` comes out as our own [`Metadata`]. Once a play is
//! accepted, `rml_rtmp`'s session is dropped and a [`PlaySession`] answers the player alone
//! (ADR 26): its state was a third of an idle player's memory.

mod connection;
mod error;
pub mod front;
pub mod handshake;
mod limits;
mod metadata;
mod player;
mod playing;
pub mod proxy;
pub mod reader;
mod session;
mod status;
pub mod testing;

pub use connection::Connection;
pub use error::RtmpError;
pub use limits::Limits;
pub use metadata::Metadata;
pub use player::Player;
pub use playing::PlaySession;
pub use session::{Event, Session};
