//! A scriptable [`SegmentIndex`] for the tests of the index's callers (the uploader, the edge
//! cache): it forwards to any index, and on demand refuses appends, applies them but loses the
//! reply, refuses loads, or slows them, counting every load. One twin, so each caller's tests
//! script the same faults the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::{Epoch, Msn, StreamId};
use tokio::sync::broadcast;

use crate::index::{
    IndexChange, IndexError, IndexState, SegmentIndex, SegmentRecord, SessionStart,
};
use crate::recording::{Recording, RecordingPolicy, RecordingSummary, Retired};

/// How a [`ScriptedIndex`] answers appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AppendFault {
    /// As the index behind it does.
    None = 0,
    /// Refused, nothing written: the backend is down.
    Down = 1,
    /// Written, but the answer is lost (a timeout after Redis ran the script).
    LostReply = 2,
}

/// An index that forwards to another, with scripted faults.
pub struct ScriptedIndex {
    inner: Arc<dyn SegmentIndex>,
    append_fault: AtomicU8,
    loads_down: AtomicBool,
    load_delay: Duration,
    loads: AtomicUsize,
}

impl ScriptedIndex {
    /// Forwards to `inner`, without faults until scripted.
    pub fn over(inner: Arc<dyn SegmentIndex>) -> Self {
        Self {
            inner,
            append_fault: AtomicU8::new(AppendFault::None as u8),
            loads_down: AtomicBool::new(false),
            load_delay: Duration::ZERO,
            loads: AtomicUsize::new(0),
        }
    }

    /// Every load waits `delay` first (on tokio's clock).
    #[must_use]
    pub fn with_load_delay(mut self, delay: Duration) -> Self {
        self.load_delay = delay;
        self
    }

    /// The index behind the faults.
    pub fn inner(&self) -> &Arc<dyn SegmentIndex> {
        &self.inner
    }

    /// How appends are answered from now on.
    pub fn set_append_fault(&self, fault: AppendFault) {
        self.append_fault.store(fault as u8, Ordering::SeqCst);
    }

    /// Whether loads fail from now on.
    pub fn set_loads_down(&self, down: bool) {
        self.loads_down.store(down, Ordering::SeqCst);
    }

    /// Loads asked of this index so far, failed ones included.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SegmentIndex for ScriptedIndex {
    async fn open_session(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
    ) -> Result<SessionStart, IndexError> {
        self.inner.open_session(stream_id, epoch).await
    }

    async fn append_recorded(
        &self,
        stream_id: &StreamId,
        record: SegmentRecord,
        retain: usize,
        recording: Option<RecordingPolicy>,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        let inner = &self.inner;
        match self.append_fault.load(Ordering::SeqCst) {
            1 => Err(IndexError::Unavailable("scripted: down".into())),
            2 => {
                let _ = inner
                    .append_recorded(stream_id, record, retain, recording)
                    .await;
                Err(IndexError::Unavailable("scripted: reply lost".into()))
            }
            _ => {
                inner
                    .append_recorded(stream_id, record, retain, recording)
                    .await
            }
        }
    }

    async fn close_session(&self, stream_id: &StreamId, epoch: Epoch) -> Result<(), IndexError> {
        self.inner.close_session(stream_id, epoch).await
    }

    async fn load(&self, stream_id: &StreamId) -> Result<Option<IndexState>, IndexError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if !self.load_delay.is_zero() {
            tokio::time::sleep(self.load_delay).await;
        }
        if self.loads_down.load(Ordering::SeqCst) {
            return Err(IndexError::Unavailable("scripted: down".into()));
        }
        self.inner.load(stream_id).await
    }

    async fn recordings(&self, stream_id: &StreamId) -> Result<Vec<RecordingSummary>, IndexError> {
        self.inner.recordings(stream_id).await
    }

    async fn recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Option<Recording>, IndexError> {
        self.inner.recording(stream_id, generation).await
    }

    async fn recording_segment(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
        msn: Msn,
    ) -> Result<Option<(RecordingSummary, SegmentRecord)>, IndexError> {
        self.inner
            .recording_segment(stream_id, generation, msn)
            .await
    }

    async fn retire_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Retired, IndexError> {
        self.inner.retire_recording(stream_id, generation).await
    }

    async fn forget_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<bool, IndexError> {
        self.inner.forget_recording(stream_id, generation).await
    }

    fn changes(&self) -> broadcast::Receiver<IndexChange> {
        self.inner.changes()
    }
}
