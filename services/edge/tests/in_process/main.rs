//! The edge's real `run` on a loopback listener, over twins (a directory of one stream, a
//! memory index and object store, live hubs fed by the test, and failing twins), asked over
//! HTTP what a player asks:
//! - [`hls`]: playlists list the indexed segments, segment URLs give the stored bytes, an
//!   unknown playback id is 404, an unreachable directory or index is 503 with `Retry-After`;
//! - [`flv`]: a viewer gets the FLV header, the sequence headers, then the frames pushed into
//!   the hub; a viewer joining mid-GOP starts at its keyframe; a shutdown closes viewers at
//!   the drain's request deadline;
//! - [`delivery`]: segments answer byte ranges, and the CORS preflight allows the headers a
//!   player adds;
//! - [`dvr`]: a stream with a rewind window lists that much of its recording, with delta
//!   updates, and serves the segments that left the live listing;
//! - [`ll`]: LL-HLS playlists from a part log fed by a real CMAF packager: blocking reloads
//!   wait for their part and answer up to exactly it, malformed queries are 400, a part that
//!   never comes is 503 after three target durations, the multivariant playlists and the MPD;
//! - [`ll_objects`]: init segments, parts and segments are the log's bytes, a hinted part is
//!   waited for, and the edge's cap on waiting requests holds;
//! - [`ll_stored`]: segments and inits the log does not hold come from object storage;
//! - [`thumbnail`]: a live keyframe becomes a JPEG of the stream's size; unknown, offline,
//!   audio-only and HEVC streams and bad queries get a clear status.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing unwrap is a failing test

mod delivery;
mod dvr;
mod flv;
mod hls;
mod http;
mod ll;
mod ll_fixture;
mod ll_objects;
mod ll_stored;
mod support;
mod thumbnail;
