//! The in-memory [`SegmentIndex`] twin, for `dev` and unit tests.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::index::{IndexError, IndexState, SegmentIndex, SegmentRecord, SessionStart};

/// A process-local segment index.
#[derive(Default)]
pub struct MemoryIndex {
    streams: Mutex<HashMap<String, IndexState>>,
}

impl MemoryIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
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
        self.with_streams(|streams| {
            let state = streams.entry(stream_id.to_owned()).or_default();
            check_epoch(state, epoch)?;
            state.epoch = epoch;
            state.ended = false;
            let last = state.segments.last();
            Ok(SessionStart {
                next_msn: last.map_or(0, |segment| segment.msn + 1),
                discontinuity: last.is_some(),
            })
        })
    }

    async fn append(
        &self,
        stream_id: &str,
        record: SegmentRecord,
        retain: usize,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        self.with_streams(|streams| {
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
        })
    }

    async fn close_session(&self, stream_id: &str, epoch: u64) -> Result<(), IndexError> {
        self.with_streams(|streams| {
            let Some(state) = streams.get_mut(stream_id) else {
                return Ok(());
            };
            check_epoch(state, epoch)?;
            state.ended = true;
            Ok(())
        })
    }

    async fn load(&self, stream_id: &str) -> Result<Option<IndexState>, IndexError> {
        Ok(self.with_streams(|streams| streams.get(stream_id).cloned()))
    }
}
