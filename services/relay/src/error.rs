//! Errors of the relay, and how they reach viewers as [`LiveError`]s.

use std::sync::Arc;
use std::time::Duration;

use ferrocast_live::LiveError;

use crate::OwnersError;

/// Why a relay operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The stream is not live: it has no owner, or its owner does not serve it.
    #[error("stream is not live")]
    Offline,
    /// Looking up the stream's owner failed.
    #[error("owner lookup failed: {0}")]
    Owners(#[source] OwnersError),
    /// The owner's relay URL is not a valid endpoint.
    #[error("invalid relay url {url:?}: {source}")]
    InvalidUrl {
        /// The URL as the owner registry gave it.
        url: String,
        /// What is wrong with it.
        #[source]
        source: tonic::transport::Error,
    },
    /// A step towards the upstream did not finish before its deadline.
    #[error("{step} timed out after {after:?}")]
    Timeout {
        /// The step that timed out.
        step: &'static str,
        /// Its deadline.
        after: Duration,
    },
    /// Connecting to the upstream failed.
    #[error("upstream {url}: connect: {source}")]
    Connect {
        /// The upstream's relay URL.
        url: String,
        /// The transport's error.
        #[source]
        source: tonic::transport::Error,
    },
    /// The upstream refused the subscription, or its stream failed before the first frame.
    #[error("upstream {url}: {:?}: {}", .status.code(), .status.message())]
    Subscribe {
        /// The upstream's relay URL.
        url: String,
        /// The upstream's answer.
        #[source]
        status: tonic::Status,
    },
    /// A relayed frame is malformed.
    #[error("invalid relayed frame: {0}")]
    InvalidFrame(&'static str),
    /// A relayed part-log message is malformed.
    #[error("invalid relayed part-log message: {0}")]
    InvalidLogMessage(&'static str),
    /// The pull this viewer waited on ended without telling how its start went.
    #[error("upstream start was abandoned")]
    StartAbandoned,
    /// The pull this viewer waited on did not start within the start deadline.
    #[error("upstream did not start within {0:?}")]
    StartTimeout(Duration),
    /// The pull this viewer waited on reported no outcome.
    #[error("upstream start has no result")]
    NoStartResult,
    /// This edge is shutting down and starts no new pulls.
    #[error("relay source is shutting down")]
    ShuttingDown,
    /// The relay server stopped on a transport error.
    #[error("relay server: {0}")]
    Serve(#[from] tonic::transport::Error),
}

impl RelayError {
    /// What a viewer is told. Shared: every viewer that waited on one failed start gets the
    /// same error, the relay's own as the source.
    pub(crate) fn into_live(self: Arc<Self>) -> LiveError {
        match *self {
            RelayError::Offline => LiveError::Offline,
            _ => LiveError::Unavailable(self),
        }
    }
}

impl From<RelayError> for LiveError {
    fn from(error: RelayError) -> Self {
        Arc::new(error).into_live()
    }
}
