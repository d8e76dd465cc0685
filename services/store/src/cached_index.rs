//! A read cache in front of any [`SegmentIndex`], for edges: playlists are rendered from the
//! cache and refreshed when the index announces a change, not by polling the backend per
//! viewer request.
//!
//! - Writes pass through (and drop the stream's cached state, so a writer reads its writes).
//! - A cached state is dropped when [`SegmentIndex::changes`] names its stream;
//!   [`IndexChange::All`] or a lagged receiver drops every state. Pending notifications
//!   are applied at the start of every `load`, so there is no background task.
//! - A maximum age is the safety net for a notification that never arrives.
//! - Single flight: concurrent misses for one stream share one backend `load`, run in its own
//!   task so a cancelled caller does not cancel the others.
//! - Serve stale: when the backend fails, a stream's last good state is answered for at most
//!   `serve_stale_for` after it was loaded, so an index outage costs freshness, not playback;
//!   [`CachedIndex::stale_answers`] counts those answers for a metric.
//! - At most `max_streams` states are kept (rule 5).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::{Epoch, Msn, StreamId, lock};
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, timeout};

use crate::index::{
    IndexChange, IndexError, IndexState, SegmentIndex, SegmentRecord, SessionStart,
};
use crate::recording::{Recording, RecordingPolicy, RecordingSummary, Retired};

/// Limits of a [`CachedIndex`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedIndexConfig {
    /// A cached state older than this is reloaded even without a notification.
    pub max_age: Duration,
    /// Streams whose state is kept at once.
    pub max_streams: usize,
    /// Deadline of a `load` that waits on the backend (the backend has its own, too).
    pub load_timeout: Duration,
    /// How long after its load a stream's last good state may still be answered while the
    /// backend fails; past that, the failure is the answer.
    pub serve_stale_for: Duration,
}

impl Default for CachedIndexConfig {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(1),
            max_streams: 10_000,
            load_timeout: Duration::from_secs(5),
            serve_stale_for: Duration::from_secs(120),
        }
    }
}

type LoadResult = Result<Option<IndexState>, IndexError>;

/// A [`SegmentIndex`] whose `load` is served from a notification-invalidated cache.
pub struct CachedIndex {
    inner: Arc<dyn SegmentIndex>,
    shared: Arc<Mutex<CacheState>>,
    config: CachedIndexConfig,
    stale_answers: AtomicU64,
}

struct Entry {
    state: Option<IndexState>,
    /// When the load that produced it started: the state is at least this fresh.
    loaded_at: Instant,
    /// No change was announced since: the state may be answered without asking the backend.
    /// An invalidated entry is kept as the last good state, to serve while the backend fails.
    current: bool,
}

/// A backend load in progress. `id` tells a finishing load whether it was invalidated
/// (removed or replaced) meanwhile, in which case its result is not cached.
struct Flight {
    id: u64,
    result: watch::Receiver<Option<LoadResult>>,
}

struct CacheState {
    changes: broadcast::Receiver<IndexChange>,
    entries: HashMap<StreamId, Entry>,
    flights: HashMap<StreamId, Flight>,
    next_flight: u64,
}

impl CacheState {
    /// Drops what the pending notifications say changed.
    fn apply_changes(&mut self) {
        loop {
            match self.changes.try_recv() {
                Ok(IndexChange::All) => self.flush(),
                Ok(IndexChange::Stream(stream_id)) => self.invalidate(&stream_id),
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "index change notifications lagged; flushing cache");
                    self.flush();
                }
                Err(broadcast::error::TryRecvError::Empty)
                | Err(broadcast::error::TryRecvError::Closed) => return,
            }
        }
    }

    fn flush(&mut self) {
        for entry in self.entries.values_mut() {
            entry.current = false;
        }
        self.flights.clear();
    }

    fn invalidate(&mut self, stream_id: &StreamId) {
        if let Some(entry) = self.entries.get_mut(stream_id) {
            entry.current = false;
        }
        self.flights.remove(stream_id);
    }

    fn insert(&mut self, stream_id: StreamId, entry: Entry, config: &CachedIndexConfig) {
        if self.entries.len() >= config.max_streams && !self.entries.contains_key(&stream_id) {
            // First drop what is neither fresh nor servable as stale any more.
            let useful_for = config.max_age.max(config.serve_stale_for);
            self.entries
                .retain(|_, cached| cached.loaded_at.elapsed() < useful_for);
            if self.entries.len() >= config.max_streams {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, cached)| cached.loaded_at)
                    .map(|(id, _)| id.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        if config.max_streams > 0 {
            self.entries.insert(stream_id, entry);
        }
    }
}

impl CachedIndex {
    /// Caches `inner`, listening to its change notifications from now on.
    pub fn new(inner: Arc<dyn SegmentIndex>, config: CachedIndexConfig) -> Self {
        let changes = inner.changes();
        Self {
            inner,
            shared: Arc::new(Mutex::new(CacheState {
                changes,
                entries: HashMap::new(),
                flights: HashMap::new(),
                next_flight: 0,
            })),
            config,
            stale_answers: AtomicU64::new(0),
        }
    }

    /// How many loads were answered with a stale state because the backend failed.
    pub fn stale_answers(&self) -> u64 {
        self.stale_answers.load(Ordering::Relaxed)
    }

    /// Answers a failed load with the stream's last good state while it is recent enough.
    fn stale_or(&self, stream_id: &StreamId, failure: IndexError) -> LoadResult {
        let stale = {
            let state = lock(&self.shared);
            state
                .entries
                .get(stream_id)
                .filter(|entry| entry.loaded_at.elapsed() < self.config.serve_stale_for)
                .map(|entry| entry.state.clone())
        };
        let Some(stale) = stale else {
            return Err(failure);
        };
        self.stale_answers.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%stream_id, error = %failure, "index unavailable; answering a stale state");
        Ok(stale)
    }

    /// Drops a stream's state after this process wrote it, so it reads its own writes even
    /// before the notification arrives.
    fn wrote(&self, stream_id: &StreamId) {
        lock(&self.shared).invalidate(stream_id);
    }

    /// Starts the one backend load for `stream_id`; the caller holds the state lock.
    fn start_flight(
        &self,
        state: &mut CacheState,
        stream_id: &StreamId,
    ) -> watch::Receiver<Option<LoadResult>> {
        let id = state.next_flight;
        state.next_flight += 1;
        let (sender, receiver) = watch::channel(None);
        state.flights.insert(
            stream_id.clone(),
            Flight {
                id,
                result: receiver.clone(),
            },
        );
        let inner = Arc::clone(&self.inner);
        let shared = Arc::clone(&self.shared);
        let config = self.config.clone();
        let stream_id = stream_id.clone();
        tokio::spawn(async move {
            let loaded_at = Instant::now();
            let result = inner.load(&stream_id).await;
            {
                let mut state = lock(&shared);
                state.apply_changes();
                if state.flights.get(&stream_id).is_some_and(|f| f.id == id) {
                    state.flights.remove(&stream_id);
                    if let Ok(loaded) = &result {
                        let entry = Entry {
                            state: loaded.clone(),
                            loaded_at,
                            current: true,
                        };
                        state.insert(stream_id, entry, &config);
                    }
                }
            }
            let _ = sender.send(Some(result));
        });
        receiver
    }
}

#[async_trait]
impl SegmentIndex for CachedIndex {
    async fn open_session(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
    ) -> Result<SessionStart, IndexError> {
        let result = self.inner.open_session(stream_id, epoch).await;
        self.wrote(stream_id);
        result
    }

    async fn append_recorded(
        &self,
        stream_id: &StreamId,
        record: SegmentRecord,
        retain: usize,
        recording: Option<RecordingPolicy>,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        let result = self
            .inner
            .append_recorded(stream_id, record, retain, recording)
            .await;
        self.wrote(stream_id);
        result
    }

    async fn close_session(&self, stream_id: &StreamId, epoch: Epoch) -> Result<(), IndexError> {
        let result = self.inner.close_session(stream_id, epoch).await;
        self.wrote(stream_id);
        result
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
        let result = self.inner.retire_recording(stream_id, generation).await;
        self.wrote(stream_id);
        result
    }

    async fn forget_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<bool, IndexError> {
        self.inner.forget_recording(stream_id, generation).await
    }

    async fn load(&self, stream_id: &StreamId) -> Result<Option<IndexState>, IndexError> {
        let mut flight = {
            let mut state = lock(&self.shared);
            state.apply_changes();
            if let Some(entry) = state.entries.get(stream_id)
                && entry.current
                && entry.loaded_at.elapsed() < self.config.max_age
            {
                return Ok(entry.state.clone());
            }
            match state.flights.get(stream_id) {
                Some(flight) => flight.result.clone(),
                None => self.start_flight(&mut state, stream_id),
            }
        };
        let waited = timeout(self.config.load_timeout, flight.wait_for(Option::is_some)).await;
        let failure = match waited {
            Ok(Ok(result)) => match result.clone() {
                Some(Ok(loaded)) => return Ok(loaded),
                Some(Err(error)) => error,
                None => IndexError::Unavailable("index load ended without a result".into()),
            },
            Ok(Err(_)) => IndexError::Unavailable("index load was aborted".into()),
            Err(_) => IndexError::Unavailable(
                format!("index load timed out after {:?}", self.config.load_timeout).into(),
            ),
        };
        self.stale_or(stream_id, failure)
    }

    fn changes(&self) -> broadcast::Receiver<IndexChange> {
        self.inner.changes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

    use super::*;
    use crate::{MemoryIndex, ScriptedIndex};
    use ferrocast_base::Msn;

    fn record(msn: u64) -> SegmentRecord {
        SegmentRecord {
            msn: Msn(msn),
            epoch: Epoch(1),
            seq: msn,
            duration_ms: 2000,
            bytes: 1000,
            program_date_time_ms: 0,
            listed_at_ms: 0,
            cmaf: Default::default(),
            discontinuity: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_backend_is_answered_with_the_last_good_state_for_a_bounded_time() {
        // Loads fail while scripted down, like Redis during an outage.
        let backend = Arc::new(ScriptedIndex::over(Arc::new(MemoryIndex::new())));
        let config = CachedIndexConfig {
            max_age: Duration::from_secs(1),
            serve_stale_for: Duration::from_secs(120),
            ..CachedIndexConfig::default()
        };
        let cache = CachedIndex::new(backend.clone(), config);
        let s = &StreamId::new("s");
        backend.open_session(s, Epoch(1)).await.unwrap();
        backend.append(s, record(0), 5).await.unwrap();
        let good = cache.load(s).await.unwrap().unwrap();
        assert_eq!(good.segments, vec![record(0)]);
        assert_eq!(cache.stale_answers(), 0);

        // The backend goes down and a change is announced: the cache must ask the backend,
        // which fails, so the last good state is the answer.
        backend.set_loads_down(true);
        backend.append(s, record(1), 5).await.unwrap();
        assert_eq!(cache.load(s).await.unwrap(), Some(good.clone()));
        assert_eq!(cache.stale_answers(), 1);
        // Past its max age, still within the stale bound.
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(cache.load(s).await.unwrap(), Some(good));
        assert_eq!(cache.stale_answers(), 2);

        // A stream never loaded has nothing to serve: the failure is the answer.
        assert!(matches!(
            cache.load(&StreamId::new("other")).await,
            Err(IndexError::Unavailable(_))
        ));

        // Past the bound the failure is the answer too, and not counted as stale.
        tokio::time::advance(Duration::from_secs(21)).await;
        assert!(matches!(
            cache.load(s).await,
            Err(IndexError::Unavailable(_))
        ));
        assert_eq!(cache.stale_answers(), 2);

        // Back up: fresh answers again, with the change made during the outage.
        backend.set_loads_down(false);
        let fresh = cache.load(s).await.unwrap().unwrap();
        assert_eq!(fresh.segments, vec![record(0), record(1)]);
        assert_eq!(cache.stale_answers(), 2);
    }
}
