//! The part logs of the streams in a process ([`PartLogs`]), each behind a [`LogChannel`]:
//! the origin applies its CMAF packager's events to it, the relay server replays it and
//! follows it for each subscribing edge, and an edge applies what the relay brings to its
//! own mirror and wakes blocked playlist requests from it (ADR 16 decision 7).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferrocast_base::{StreamId, lock};
use ferrocast_media::ll::{LogConfig, LogError, LogEvent, PartLog};
use tokio::sync::{broadcast, watch};

/// Events a follower may fall behind by before it is told it lagged (it then resubscribes
/// and gets a replay): about 30 s of parts of a two-track stream.
const FOLLOW_CAPACITY: usize = 512;

/// One stream's part log with its followers.
pub struct LogChannel {
    log: Mutex<PartLog>,
    events: broadcast::Sender<LogEvent>,
    version: watch::Sender<u64>,
}

impl LogChannel {
    /// An empty log.
    pub fn new(config: LogConfig) -> Self {
        Self {
            log: Mutex::new(PartLog::new(config)),
            events: broadcast::channel(FOLLOW_CAPACITY).0,
            version: watch::channel(0).0,
        }
    }

    /// Applies `event`, then passes it to the followers and wakes the watchers.
    pub fn apply(&self, event: LogEvent) -> Result<(), LogError> {
        let mut log = lock(&self.log);
        log.apply(event.clone())?;
        // Sent under the lock, so a follower never sees events out of order with its replay.
        let _no_followers = self.events.send(event);
        self.version.send_replace(log.version());
        Ok(())
    }

    /// The origin is gone: see [`PartLog::cut_off`].
    pub fn cut_off(&self) {
        let mut log = lock(&self.log);
        log.cut_off();
        self.version.send_replace(log.version());
    }

    /// The log as events, and the events that follow them, with none lost or repeated.
    pub fn follow(&self) -> (Vec<LogEvent>, broadcast::Receiver<LogEvent>) {
        let log = lock(&self.log);
        (log.replay(), self.events.subscribe())
    }

    /// Reads the log.
    pub fn read<R>(&self, read: impl FnOnce(&PartLog) -> R) -> R {
        read(&lock(&self.log))
    }

    /// Changes with every change to the log ([`PartLog::version`]).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

/// The part logs of the streams in this process.
#[derive(Default)]
pub struct PartLogs {
    config: LogConfig,
    logs: Mutex<HashMap<StreamId, Arc<LogChannel>>>,
}

impl PartLogs {
    /// No logs yet; each new one gets `config`.
    pub fn new(config: LogConfig) -> Self {
        Self {
            config,
            logs: Mutex::default(),
        }
    }

    /// The stream's log, created empty if there is none.
    pub fn get_or_create(&self, stream_id: &StreamId) -> Arc<LogChannel> {
        lock(&self.logs)
            .entry(stream_id.clone())
            .or_insert_with(|| Arc::new(LogChannel::new(self.config)))
            .clone()
    }

    /// The stream's log, if there is one.
    pub fn get(&self, stream_id: &StreamId) -> Option<Arc<LogChannel>> {
        lock(&self.logs).get(stream_id).cloned()
    }

    /// Forgets the stream's log (its last session ended and its window passed).
    pub fn remove(&self, stream_id: &StreamId) {
        lock(&self.logs).remove(stream_id);
    }
}

/// Where an edge gets a stream's part log: in the cluster (and in `dev`) a mirror fed by
/// the owning origin over the relay (`ferrocast_relay`), created on first use and kept while
/// it is read.
#[async_trait::async_trait]
pub trait PartSource: Send + Sync {
    /// The stream's log, following its origin. `Err` when no origin has it (not live, or
    /// the owner lookup failed).
    async fn log(&self, stream_id: &StreamId) -> Result<Arc<LogChannel>, crate::LiveError>;
}
