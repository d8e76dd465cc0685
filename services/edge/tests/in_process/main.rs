//! The edge's real `run` on a loopback listener, over twins (a directory of one stream, a
//! memory index and object store, live hubs fed by the test, and failing twins), asked over
//! HTTP what a player asks:
//! - [`hls`]: playlists list the indexed segments, segment URLs give the stored bytes, an
//!   unknown playback id is 404, an unreachable directory or index is 503 with `Retry-After`;
//! - [`flv`]: a viewer gets the FLV header, the sequence headers, then the frames pushed into
//!   the hub; a viewer joining mid-GOP starts at its keyframe; a shutdown closes viewers at
//!   the drain's request deadline;
//! - [`delivery`]: segments answer byte ranges, and the CORS preflight allows the headers a
//!   player adds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing unwrap is a failing test

mod delivery;
mod flv;
mod hls;
mod http;
mod support;
