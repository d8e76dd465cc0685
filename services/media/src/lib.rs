//! Pure (sans-I/O) media handling for ferrocast: FLV in; MPEG-TS segments, CMAF
//! init segments and parts, and HLS playlists out; and the RTMP chunks that carry frames
//! to RTMP players.
//!
//! Nothing in this crate touches the network, the file system, threads or the
//! clock, so every parser can be fed arbitrary bytes by tests and fuzzers.
//! Parsers of untrusted input return [`MediaError`] instead of panicking.

pub mod aac;
pub mod amf0;
pub mod av1;
pub mod avc;
pub mod cmaf;
pub mod flv;
pub mod hevc;
pub mod hls;
pub mod ll;
pub mod mpeg_audio;
pub mod rtmp_chunk;
pub mod timestamp;
pub mod ts;

mod cuts;
mod error;
mod read;
#[cfg(test)]
mod test_support;
mod text;
mod video;

pub use error::{BoxError, MediaError};
