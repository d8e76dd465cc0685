//! [`LocalParts`]: the part logs of this process as a [`PartSource`], for `dev` and the
//! tests until the relay mirror (`ferrocast_relay`) is wired into the roles.

use std::sync::Arc;

use async_trait::async_trait;
use ferrocast_base::StreamId;
use ferrocast_live::{LiveError, LogChannel, PartLogs, PartSource};

/// Reads the logs an origin in the same process writes: a stream with no log is offline.
pub struct LocalParts {
    logs: Arc<PartLogs>,
}

impl LocalParts {
    /// Reads `logs`.
    pub fn new(logs: Arc<PartLogs>) -> Self {
        Self { logs }
    }
}

#[async_trait]
impl PartSource for LocalParts {
    async fn log(&self, stream_id: &StreamId) -> Result<Arc<LogChannel>, LiveError> {
        self.logs.get(stream_id).ok_or(LiveError::Offline)
    }
}
