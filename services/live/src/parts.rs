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

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ferrocast_base::{Epoch, Msn};
    use ferrocast_media::cmaf::{Init, MediaDuration, Part, TrackKind};
    use ferrocast_media::ll::{SegmentSummary, SessionInfo};

    use super::*;

    fn session() -> LogEvent {
        LogEvent::Session(SessionInfo {
            epoch: Epoch(4),
            first_msn: Msn(10),
            started_at_unix_ms: 1_800_000_000_000,
            part_target_ms: 334,
            target_duration_ms: 2_000,
        })
    }

    fn init() -> LogEvent {
        LogEvent::Init(Init {
            track: TrackKind::Video,
            version: 0,
            codec: "avc1.64001f".into(),
            timescale: 90_000,
            dimensions: Some((1280, 720)),
            data: Bytes::from_static(b"ftyp moov"),
        })
    }

    fn part(index: u32) -> LogEvent {
        part_of(0, index)
    }

    fn part_of(seq: u64, index: u32) -> LogEvent {
        LogEvent::Part(Part {
            track: TrackKind::Video,
            seq,
            index,
            duration: MediaDuration {
                ticks: 30_000,
                timescale: 90_000,
            },
            independent: index == 0,
            samples: 10,
            data: Bytes::from(vec![index as u8; 100]),
        })
    }

    #[test]
    fn a_follower_gets_the_log_then_every_later_event_and_no_refused_one() {
        let channel = LogChannel::new(LogConfig::default());
        let changes = channel.changes();
        for event in [session(), init(), part(0), part(1)] {
            channel.apply(event).expect("in order");
        }
        assert!(changes.has_changed().expect("open"));
        let (replay, mut follow) = channel.follow();
        for event in [
            part(2),
            LogEvent::SegmentEnd(SegmentSummary {
                seq: 0,
                start_dts_ms: 0,
                duration: MediaDuration {
                    ticks: 90_000,
                    timescale: 90_000,
                },
                parts: 3,
                starts_with_keyframe: true,
            }),
        ] {
            channel.apply(event).expect("in order");
        }
        // A part whose segment's first part never came is refused and not passed on.
        assert!(channel.apply(part_of(1, 3)).is_err());
        let mut mirror = PartLog::new(LogConfig::default());
        for event in replay {
            mirror.apply(event).expect("a replay applies");
        }
        while let Ok(event) = follow.try_recv() {
            mirror.apply(event).expect("followed in order");
        }
        assert_eq!(channel.read(Clone::clone), mirror);
        assert_eq!(*changes.borrow(), channel.read(PartLog::version));
        assert!(mirror.segments()[0].complete.is_some());

        let logs = PartLogs::new(LogConfig::default());
        let stream = StreamId::new("s");
        assert!(logs.get(&stream).is_none());
        let created = logs.get_or_create(&stream);
        assert!(Arc::ptr_eq(&created, &logs.get_or_create(&stream)));
        logs.remove(&stream);
        assert!(logs.get(&stream).is_none());
    }
}
