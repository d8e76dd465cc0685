//! The on-disk [`SegmentIndex`] of `ferrocast dev`: one `redb` file, so the media sequence,
//! the epochs and the generations survive a restart (or a kill) of the process.
//!
//! Each call is one redb transaction, committed durably before the call returns, and runs on
//! the blocking pool (redb's I/O and fsync are synchronous). A stream's state is one value:
//! its [`crate::encoding::encode_stream`] text, bounded by the caller's `retain`. The rules
//! are those of [`crate::stream_state`], shared with [`crate::MemoryIndex`].

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use ferrocast_base::{Epoch, Msn, StreamId};
use redb::{Database, ReadableTable, TableDefinition};
use tokio::sync::broadcast;

use crate::encoding::{decode_stream, encode_stream};
use crate::index::{
    BackendError, IndexChange, IndexError, IndexState, SegmentIndex, SegmentRecord, SessionStart,
};
use crate::recording::{Recording, RecordingPolicy, RecordingSummary, Retired};
use crate::stream_state::{self, StreamState};

/// Stream id → encoded stream state.
const STREAMS: TableDefinition<&str, &str> = TableDefinition::new("streams");

/// Notifications a slow reader may fall behind by before it must flush everything.
const CHANGES_CAPACITY: usize = 1024;

/// A process-local segment index kept in a file.
pub struct DiskIndex {
    database: Arc<Database>,
    changes: broadcast::Sender<IndexChange>,
}

impl DiskIndex {
    /// Opens the index file at `path`, creating it if it does not exist. Fails if the file is
    /// not an index or another process has it open.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        let database = Database::create(path).map_err(disk)?;
        Ok(Self {
            database: Arc::new(database),
            changes: broadcast::channel(CHANGES_CAPACITY).0,
        })
    }

    /// Runs `change` on the stream's state in one write transaction and commits it when the
    /// change succeeded (`Ok(Some(new state))`); announces the stream after a commit.
    async fn write<T: Send + 'static>(
        &self,
        stream_id: &StreamId,
        change: impl FnOnce(Option<StreamState>) -> Result<(Option<StreamState>, T), IndexError>
        + Send
        + 'static,
    ) -> Result<T, IndexError> {
        let database = Arc::clone(&self.database);
        let key = stream_id.clone();
        let result = tokio::task::spawn_blocking(move || {
            let transaction = database.begin_write().map_err(disk)?;
            let answer = {
                let mut table = transaction.open_table(STREAMS).map_err(disk)?;
                let previous = match table.get(key.as_str()).map_err(disk)? {
                    Some(value) => Some(decode_stream(value.value()).map_err(corrupt)?),
                    None => None,
                };
                let (next, answer) = change(previous)?;
                if let Some(next) = next {
                    table
                        .insert(key.as_str(), encode_stream(&next).as_str())
                        .map_err(disk)?;
                }
                answer
            };
            transaction.commit().map_err(disk)?;
            Ok(answer)
        })
        .await
        .map_err(task_failed)?;
        if result.is_ok() {
            let _ = self.changes.send(IndexChange::Stream(stream_id.clone()));
        }
        result
    }
}

fn disk(error: impl Into<redb::Error>) -> IndexError {
    IndexError::Unavailable(BackendError::Disk(Arc::new(error.into())))
}

fn corrupt(error: String) -> IndexError {
    IndexError::Unavailable(format!("disk index holds a bad value: {error}").into())
}

fn task_failed(error: tokio::task::JoinError) -> IndexError {
    IndexError::Unavailable(format!("disk index task: {error}").into())
}

#[async_trait]
impl SegmentIndex for DiskIndex {
    async fn open_session(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
    ) -> Result<SessionStart, IndexError> {
        self.write(stream_id, move |previous| {
            let (stream, start) = stream_state::open_session(previous, epoch)?;
            Ok((Some(stream), start))
        })
        .await
    }

    async fn append_recorded(
        &self,
        stream_id: &StreamId,
        record: SegmentRecord,
        retain: usize,
        recording: Option<RecordingPolicy>,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        self.write(stream_id, move |previous| {
            let Some(mut stream) = previous else {
                return Err(IndexError::StaleEpoch {
                    offered: record.epoch,
                    current: Epoch(0),
                });
            };
            let trimmed = stream_state::append(&mut stream, record, retain, recording)?;
            Ok((Some(stream), trimmed))
        })
        .await
    }

    async fn close_session(&self, stream_id: &StreamId, epoch: Epoch) -> Result<(), IndexError> {
        self.write(stream_id, move |previous| {
            let Some(mut stream) = previous else {
                return Ok((None, ()));
            };
            stream_state::close_session(&mut stream, epoch, stream_state::now_ms())?;
            Ok((Some(stream), ()))
        })
        .await
    }

    async fn load(&self, stream_id: &StreamId) -> Result<Option<IndexState>, IndexError> {
        Ok(self.read(stream_id).await?.map(|stream| stream.view))
    }

    async fn recordings(&self, stream_id: &StreamId) -> Result<Vec<RecordingSummary>, IndexError> {
        let stream = self.read(stream_id).await?;
        Ok(stream
            .map(|stream| stream_state::recordings(&stream))
            .unwrap_or_default())
    }

    async fn recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Option<Recording>, IndexError> {
        let stream = self.read(stream_id).await?;
        Ok(stream.and_then(|stream| stream_state::recording(&stream, generation)))
    }

    async fn recording_segment(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
        msn: Msn,
    ) -> Result<Option<(RecordingSummary, SegmentRecord)>, IndexError> {
        let stream = self.read(stream_id).await?;
        Ok(stream.and_then(|stream| stream_state::recording_segment(&stream, generation, msn)))
    }

    async fn retire_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Retired, IndexError> {
        self.write(stream_id, move |previous| {
            let Some(mut stream) = previous else {
                return Ok((None, Retired::Unknown));
            };
            let retired = stream_state::retire_recording(&mut stream, generation);
            Ok((Some(stream), retired))
        })
        .await
    }

    async fn forget_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<bool, IndexError> {
        self.write(stream_id, move |previous| {
            let Some(mut stream) = previous else {
                return Ok((None, false));
            };
            let forgotten = stream_state::forget_recording(&mut stream, generation);
            Ok((Some(stream), forgotten))
        })
        .await
    }

    fn changes(&self) -> broadcast::Receiver<IndexChange> {
        self.changes.subscribe()
    }
}

impl DiskIndex {
    /// A stream's whole state, read in one transaction.
    async fn read(&self, stream_id: &StreamId) -> Result<Option<StreamState>, IndexError> {
        let database = Arc::clone(&self.database);
        let key = stream_id.clone();
        tokio::task::spawn_blocking(move || {
            let transaction = database.begin_read().map_err(disk)?;
            let table = match transaction.open_table(STREAMS) {
                Ok(table) => table,
                // Nothing was ever written: no stream exists yet.
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(error) => return Err(disk(error)),
            };
            let Some(value) = table.get(key.as_str()).map_err(disk)? else {
                return Ok(None);
            };
            let stream = decode_stream(value.value()).map_err(corrupt)?;
            Ok(Some(stream))
        })
        .await
        .map_err(task_failed)?
    }
}
