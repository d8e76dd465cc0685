//! The drain deadlines of every role, in one type: what SIGTERM (or `POST /drain`) lets run
//! on, and for how long.
//!
//! A role reads only the deadlines that apply to it: an origin its publishes' (`publish_deadline`,
//! `flush_deadline`), an edge and control their requests' (`request_deadline`), `dev` all three
//! (its origin part and its edge part). One type keeps the key names and their meaning the same
//! in every role's configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a draining process lets work in flight finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Drain {
    /// Ingest (origin): how long running publishes may continue after the drain starts; then
    /// they are closed so their encoders reconnect to another origin.
    #[serde(with = "humantime_serde")]
    pub publish_deadline: Duration,
    /// Ingest (origin): how long closed publishes have to store and index their last segment
    /// and end their playlists.
    #[serde(with = "humantime_serde")]
    pub flush_deadline: Duration,
    /// Requests (edge, control): how long HTTP requests and gRPC calls in flight may finish;
    /// those still running then, HTTP-FLV viewers included, are closed.
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            publish_deadline: Duration::from_secs(30),
            flush_deadline: Duration::from_secs(10),
            request_deadline: Duration::from_secs(10),
        }
    }
}
