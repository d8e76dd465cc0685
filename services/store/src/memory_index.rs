//! The in-memory [`SegmentIndex`] twin, for unit tests; the rules live in
//! [`crate::stream_state`].

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use ferrocast_base::{Epoch, Msn, StreamId, lock};
use tokio::sync::broadcast;

use crate::index::{
    IndexChange, IndexError, IndexState, SegmentIndex, SegmentRecord, SessionStart,
};
use crate::recording::{Recording, RecordingPolicy, RecordingSummary, Retired};
use crate::stream_state::{self, StreamState};

/// Notifications a slow reader may fall behind by before it must flush everything.
const CHANGES_CAPACITY: usize = 1024;

/// A process-local segment index.
pub struct MemoryIndex {
    streams: Mutex<HashMap<StreamId, StreamState>>,
    changes: broadcast::Sender<IndexChange>,
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
    fn changed<T>(
        &self,
        stream_id: &StreamId,
        result: Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        if result.is_ok() {
            let _ = self.changes.send(IndexChange::Stream(stream_id.clone()));
        }
        result
    }

    fn with_streams<T>(&self, action: impl FnOnce(&mut HashMap<StreamId, StreamState>) -> T) -> T {
        action(&mut lock(&self.streams))
    }
}

#[async_trait]
impl SegmentIndex for MemoryIndex {
    async fn open_session(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
    ) -> Result<SessionStart, IndexError> {
        let result = self.with_streams(|streams| {
            let previous = streams.get(stream_id).cloned();
            let (stream, start) = stream_state::open_session(previous, epoch)?;
            streams.insert(stream_id.clone(), stream);
            Ok(start)
        });
        self.changed(stream_id, result)
    }

    async fn append_recorded(
        &self,
        stream_id: &StreamId,
        record: SegmentRecord,
        retain: usize,
        recording: Option<RecordingPolicy>,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        let result = self.with_streams(|streams| match streams.get_mut(stream_id) {
            Some(stream) => stream_state::append(stream, record, retain, recording),
            None => Err(IndexError::StaleEpoch {
                offered: record.epoch,
                current: Epoch(0),
            }),
        });
        self.changed(stream_id, result)
    }

    async fn close_session(&self, stream_id: &StreamId, epoch: Epoch) -> Result<(), IndexError> {
        let result = self.with_streams(|streams| match streams.get_mut(stream_id) {
            Some(stream) => stream_state::close_session(stream, epoch, stream_state::now_ms()),
            None => Ok(()),
        });
        self.changed(stream_id, result)
    }

    async fn load(&self, stream_id: &StreamId) -> Result<Option<IndexState>, IndexError> {
        Ok(self.with_streams(|streams| streams.get(stream_id).map(|stream| stream.view.clone())))
    }

    async fn recordings(&self, stream_id: &StreamId) -> Result<Vec<RecordingSummary>, IndexError> {
        Ok(self.with_streams(|streams| {
            streams
                .get(stream_id)
                .map(stream_state::recordings)
                .unwrap_or_default()
        }))
    }

    async fn recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Option<Recording>, IndexError> {
        Ok(self.with_streams(|streams| {
            let stream = streams.get(stream_id)?;
            stream_state::recording(stream, generation)
        }))
    }

    async fn recording_segment(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
        msn: Msn,
    ) -> Result<Option<(RecordingSummary, SegmentRecord)>, IndexError> {
        Ok(self.with_streams(|streams| {
            let stream = streams.get(stream_id)?;
            stream_state::recording_segment(stream, generation, msn)
        }))
    }

    async fn retire_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Retired, IndexError> {
        let retired = self.with_streams(|streams| match streams.get_mut(stream_id) {
            Some(stream) => stream_state::retire_recording(stream, generation),
            None => Retired::Unknown,
        });
        self.changed(stream_id, Ok(retired))
    }

    async fn forget_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<bool, IndexError> {
        Ok(self.with_streams(|streams| {
            streams
                .get_mut(stream_id)
                .is_some_and(|stream| stream_state::forget_recording(stream, generation))
        }))
    }

    fn changes(&self) -> broadcast::Receiver<IndexChange> {
        self.changes.subscribe()
    }
}
