//! The in-memory [`SegmentIndex`] twin, for `dev` and unit tests.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::index::{IndexError, IndexState, SegmentIndex, SegmentRecord, SessionStart};

/// Notifications a slow reader may fall behind by before it must flush everything.
const CHANGES_CAPACITY: usize = 1024;

/// A process-local segment index.
pub struct MemoryIndex {
    streams: Mutex<HashMap<String, IndexState>>,
    changes: broadcast::Sender<String>,
}

impl Default for MemoryIndex {
    fn default() -> Self {
        Self {
            streams: Mutex::default(),
            changes: broadcast::channel(CHANGES_CAPACITY).0,
        }
    }
}

impl MemoryIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Announces a successful write; no subscriber is fine.
    fn changed<T>(&self, stream_id: &str, result: Result<T, IndexError>) -> Result<T, IndexError> {
        if result.is_ok() {
            let _ = self.changes.send(stream_id.to_owned());
        }
        result
    }

    fn with_streams<T>(&self, action: impl FnOnce(&mut HashMap<String, IndexState>) -> T) -> T {
        let mut streams = self
            .streams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        action(&mut streams)
    }
}

fn check_epoch(state: &IndexState, offered: u64) -> Result<(), IndexError> {
    if offered < state.epoch {
        return Err(IndexError::StaleEpoch {
            offered,
            current: state.epoch,
        });
    }
    Ok(())
}

#[async_trait]
impl SegmentIndex for MemoryIndex {
    async fn open_session(&self, stream_id: &str, epoch: u64) -> Result<SessionStart, IndexError> {
        let result = self.with_streams(|streams| {
            let state = streams.entry(stream_id.to_owned()).or_default();
            check_epoch(state, epoch)?;
            state.epoch = epoch;
            state.ended = false;
            let last = state.segments.last();
            Ok(SessionStart {
                next_msn: last.map_or(0, |segment| segment.msn + 1),
                discontinuity: last.is_some(),
            })
        });
        self.changed(stream_id, result)
    }

    async fn append(
        &self,
        stream_id: &str,
        record: SegmentRecord,
        retain: usize,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        let result = self.with_streams(|streams| {
            let state = streams.entry(stream_id.to_owned()).or_default();
            check_epoch(state, record.epoch)?;
            if record.epoch > state.epoch {
                // Appending under an epoch that never opened a session would skip the fence.
                return Err(IndexError::StaleEpoch {
                    offered: record.epoch,
                    current: state.epoch,
                });
            }
            if let Some(last) = state.segments.last()
                && record.msn <= last.msn
            {
                return Err(IndexError::SequenceRewind {
                    offered: record.msn,
                    last: last.msn,
                });
            }
            state.segments.push(record);
            let excess = state.segments.len().saturating_sub(retain.max(1));
            let trimmed: Vec<SegmentRecord> = state.segments.drain(..excess).collect();
            state.discontinuity_base += trimmed.iter().filter(|s| s.discontinuity).count() as u64;
            Ok(trimmed)
        });
        self.changed(stream_id, result)
    }

    async fn close_session(&self, stream_id: &str, epoch: u64) -> Result<(), IndexError> {
        let result = self.with_streams(|streams| {
            let Some(state) = streams.get_mut(stream_id) else {
                return Ok(());
            };
            check_epoch(state, epoch)?;
            state.ended = true;
            Ok(())
        });
        self.changed(stream_id, result)
    }

    async fn load(&self, stream_id: &str) -> Result<Option<IndexState>, IndexError> {
        Ok(self.with_streams(|streams| streams.get(stream_id).cloned()))
    }

    fn changes(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }
}
