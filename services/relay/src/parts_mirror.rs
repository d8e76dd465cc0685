//! The edge side of `SubscribeParts`: [`RelayParts`], a [`PartSource`] that mirrors each read
//! stream's part log from the origin that owns it (ADR 16).
//!
//! One task per stream feeds one edge-local [`LogChannel`]: it finds the owner (the same
//! [`StreamOwners`] and credential as the frame puller), subscribes, and applies the replay,
//! then each live event. The first reader of a stream waits until the replay is applied, so
//! its first playlist is the one every other edge renders. When the subscription breaks (the
//! origin died or drained, this edge lagged, or an event was refused) the log is cut off
//! (the open segment closes where its parts end, the next session starts with a
//! discontinuity) and the task finds the owner again with bounded backoff; the new replay is
//! applied idempotently. The task gives up after `resubscribe_for` and forgets the log, so a
//! later read looks the stream up afresh.
//!
//! Bounded: a mirror nobody has read for `idle_stop` is stopped and forgotten, so an edge
//! holds the logs of watched streams only, each capped by `part_log.max_bytes`. Dead
//! connections are noticed by HTTP/2 keep-alive; there is no silence timer, since a log is
//! legitimately quiet between sessions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferrocast_base::{StreamId, lock};
use ferrocast_live::{LiveError, LogChannel, PartSource};
use ferrocast_media::ll::LogEvent;
use ferrocast_proto::auth::NodeCredential;
use ferrocast_proto::relay::{LogMessage, SubscribeRequest};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tonic::Streaming;
use tracing::{debug, info, warn};

use crate::puller::{BACKOFF_MAX, BACKOFF_MIN};
use crate::upstream::{self, deadline};
use crate::{RelayConfig, RelayError, StreamOwners, event_from_proto, metrics};

/// How a mirror's start went, shared by every reader waiting on it.
type Ready = Option<Result<(), Arc<RelayError>>>;

/// A [`PartSource`] for edges: mirrors part logs from the origins that own the streams.
///
/// Dropping it stops every mirror.
pub struct RelayParts {
    inner: Arc<Inner>,
}

struct Inner {
    owners: Arc<dyn StreamOwners>,
    config: RelayConfig,
    credential: NodeCredential,
    mirrors: Mutex<HashMap<StreamId, Arc<Mirror>>>,
    /// Origin of the mirrors' read clocks.
    started: Instant,
    shutdown: CancellationToken,
}

/// One stream's mirrored log.
struct Mirror {
    channel: Arc<LogChannel>,
    ready: watch::Receiver<Ready>,
    /// Milliseconds from `Inner::started` to the last read.
    read_at_ms: AtomicU64,
}

impl RelayParts {
    /// An edge's part source that finds origins through `owners` (the frame puller's) and
    /// subscribes with `credential`; each log gets `config.part_log`.
    pub fn new(
        owners: Arc<dyn StreamOwners>,
        config: RelayConfig,
        credential: NodeCredential,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                owners,
                config,
                credential,
                mirrors: Mutex::default(),
                started: Instant::now(),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Number of logs mirrored now.
    pub fn mirrored_count(&self) -> usize {
        lock(&self.inner.mirrors).len()
    }

    /// The stream's mirror, started if there is none.
    fn mirror(&self, stream_id: &StreamId) -> Arc<Mirror> {
        let mut mirrors = lock(&self.inner.mirrors);
        if let Some(mirror) = mirrors.get(stream_id) {
            return mirror.clone();
        }
        let (ready, waiting) = watch::channel(None);
        let mirror = Arc::new(Mirror {
            channel: Arc::new(LogChannel::new(self.inner.config.part_log)),
            ready: waiting,
            read_at_ms: AtomicU64::new(self.inner.now_ms()),
        });
        mirrors.insert(stream_id.clone(), mirror.clone());
        let task = Task {
            inner: self.inner.clone(),
            stream_id: stream_id.clone(),
            mirror: mirror.clone(),
            ready: Some(ready),
            lag: metrics::part_lag(),
            parts: metrics::parts_received(),
        };
        tokio::spawn(task.run());
        mirror
    }
}

impl Drop for RelayParts {
    fn drop(&mut self) {
        self.inner.shutdown.cancel();
    }
}

#[async_trait]
impl PartSource for RelayParts {
    async fn log(&self, stream_id: &StreamId) -> Result<Arc<LogChannel>, LiveError> {
        let mirror = self.mirror(stream_id);
        mirror
            .read_at_ms
            .store(self.inner.now_ms(), Ordering::Relaxed);
        let mut ready = mirror.ready.clone();
        let deadline = self.inner.config.start_deadline();
        let started = match tokio::time::timeout(deadline, ready.wait_for(Option::is_some)).await {
            Ok(Ok(started)) => started.clone(),
            Ok(Err(_)) => return Err(RelayError::StartAbandoned.into()),
            Err(_) => return Err(RelayError::StartTimeout(deadline).into()),
        };
        match started {
            Some(Ok(())) => Ok(mirror.channel.clone()),
            Some(Err(error)) => Err(error.into_live()),
            None => Err(RelayError::NoStartResult.into()),
        }
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Forgets `mirror` if it is still the stream's.
    fn forget(&self, stream_id: &StreamId, mirror: &Arc<Mirror>) {
        let mut mirrors = lock(&self.mirrors);
        if mirrors
            .get(stream_id)
            .is_some_and(|current| Arc::ptr_eq(current, mirror))
        {
            mirrors.remove(stream_id);
        }
    }
}

/// Why a subscription stopped.
enum End {
    /// Nobody read the log for `idle_stop`.
    Unread,
    /// The edge is shutting down.
    Shutdown,
    /// The subscription broke or ended; the log may continue elsewhere.
    Lost(String),
}

/// The task that feeds one mirror.
struct Task {
    inner: Arc<Inner>,
    stream_id: StreamId,
    mirror: Arc<Mirror>,
    /// Until the first replay is applied (or the first subscription failed).
    ready: Option<watch::Sender<Ready>>,
    lag: ::metrics::Histogram,
    parts: ::metrics::Counter,
}

impl Task {
    async fn run(mut self) {
        let _counted = metrics::PART_MIRRORS.enter();
        let mut backoff = BACKOFF_MIN;
        let mut lost_at: Option<Instant> = None;
        loop {
            let opened = tokio::select! {
                () = self.inner.shutdown.cancelled() => break,
                opened = self.open() => opened,
            };
            match opened {
                Ok(messages) => {
                    backoff = BACKOFF_MIN;
                    lost_at = None;
                    let reason = match self.pump(messages).await {
                        End::Unread => {
                            debug!(stream_id = %self.stream_id, "part log not read; stopped mirroring");
                            break;
                        }
                        End::Shutdown => break,
                        End::Lost(reason) => reason,
                    };
                    self.mirror.channel.cut_off();
                    metrics::part_resubscribed();
                    warn!(stream_id = %self.stream_id, %reason, "part log subscription lost; resubscribing");
                }
                Err(error) => {
                    if let Some(ready) = self.ready.take() {
                        debug!(stream_id = %self.stream_id, %error, "part log mirror did not start");
                        ready.send_replace(Some(Err(Arc::new(error))));
                        break;
                    }
                    metrics::upstream_failed(&error);
                    debug!(stream_id = %self.stream_id, %error, "part log resubscribe failed");
                }
            }
            let lost = *lost_at.get_or_insert_with(Instant::now);
            if lost.elapsed() >= self.inner.config.resubscribe_for || self.unread() {
                info!(stream_id = %self.stream_id, "part log not found again; forgetting it");
                break;
            }
            tokio::select! {
                () = self.inner.shutdown.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        self.inner.forget(&self.stream_id, &self.mirror);
    }

    /// Subscribes at the stream's current owner.
    async fn open(&self) -> Result<Streaming<LogMessage>, RelayError> {
        let inner = &self.inner;
        let config = &inner.config;
        let stream_id = &self.stream_id;
        let (url, mut client) =
            upstream::connect(&*inner.owners, config, &inner.credential, stream_id).await?;
        let request = SubscribeRequest {
            stream_id: stream_id.as_str().to_owned(),
        };
        let subscribing = client.subscribe_parts(request);
        let subscribed = deadline("subscribe", config.first_frame_timeout, subscribing).await?;
        let messages = subscribed.map_err(|status| upstream::refused(stream_id, &url, status))?;
        debug!(stream_id = %stream_id, %url, "part log subscribed");
        Ok(messages.into_inner())
    }

    /// Applies messages until the subscription ends, nobody reads, or the edge shuts down.
    async fn pump(&mut self, mut messages: Streaming<LogMessage>) -> End {
        let mut idle_check = tokio::time::interval(self.inner.config.idle_check_period());
        idle_check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let message = tokio::select! {
                biased;
                () = self.inner.shutdown.cancelled() => return End::Shutdown,
                _ = idle_check.tick() => {
                    if self.unread() {
                        return End::Unread;
                    }
                    continue;
                }
                message = messages.message() => message,
            };
            let message = match message {
                Ok(Some(message)) => message,
                Ok(None) => return End::Lost("origin ended the part log".into()),
                Err(status) => return End::Lost(status.to_string()),
            };
            if let Err(reason) = self.apply(message) {
                return End::Lost(reason);
            }
        }
    }

    /// Applies one message; the reason to resubscribe if it cannot be.
    fn apply(&mut self, message: LogMessage) -> Result<(), String> {
        metrics::record_lag(&self.lag, message.sent_at_unix_us);
        let replay_end = message.replay_end;
        let event = event_from_proto(message).map_err(|error| error.to_string())?;
        if matches!(event, LogEvent::Part(_)) {
            self.parts.increment(1);
        }
        self.mirror
            .channel
            .apply(event)
            .map_err(|error| format!("event refused: {error}"))?;
        if replay_end && let Some(ready) = self.ready.take() {
            ready.send_replace(Some(Ok(())));
        }
        Ok(())
    }

    fn unread(&self) -> bool {
        let read_at = self.mirror.read_at_ms.load(Ordering::Relaxed);
        let idle_ms = self.inner.now_ms().saturating_sub(read_at);
        let idle_stop = u64::try_from(self.inner.config.idle_stop.as_millis()).unwrap_or(u64::MAX);
        idle_ms >= idle_stop
    }
}
