//! The Redis [`SegmentIndex`]: shared by every origin and edge of a cluster.
//!
//! Each call is one Lua script (see [`crate::redis_scripts`]) run through a [`RedisLink`]
//! (the current primary, through Sentinel when configured), under a deadline; a write is
//! confirmed by enough replicas (`WAIT`) before it counts. A failure, a timeout or too few
//! confirmations is [`IndexError::Unavailable`]. Key layouts live in [`crate::keys`].

use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::{Epoch, Msn, StreamId};
use redis::{FromRedisValue, ScriptInvocation};
use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use tokio::time::timeout;

use crate::encoding::{decode_record, encode_record};
use crate::index::{
    BackendError, IndexChange, IndexError, IndexState, SegmentIndex, SegmentRecord, SessionStart,
};
use crate::keys;
use crate::recording::{
    MAX_RECORDING_SEGMENTS, Recording, RecordingPolicy, RecordingSummary, Retired,
};
use crate::redis_changes::spawn_listener;
use crate::redis_link::{RedisLink, SentinelConfig};
use crate::redis_scripts::Scripts;

/// Notifications a slow reader may fall behind by before it must flush everything.
const CHANGES_CAPACITY: usize = 4096;

/// Where the index lives and how long a call may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisIndexConfig {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`). May hold a password:
    /// never logged.
    pub url: String,
    /// Deadline of one index call, reconnects, Sentinel lookups and `WAIT` included.
    pub call_timeout: Duration,
    /// Find the primary through Sentinel (off by default); `url` then only gives the
    /// credentials and database.
    pub sentinel: SentinelConfig,
}

impl Default for RedisIndexConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            call_timeout: Duration::from_secs(2),
            sentinel: SentinelConfig::default(),
        }
    }
}

/// A segment index in Redis, fenced atomically by Lua scripts.
pub struct RedisIndex {
    link: RedisLink,
    pub(crate) scripts: Scripts,
    call_timeout: Duration,
    changes: broadcast::Sender<IndexChange>,
    listener: AbortHandle,
}

impl RedisIndex {
    /// Prepares the index. Connects lazily (a Redis outage at start-up is an unavailable
    /// index, not a crash) and starts the change listener, so it must run inside a Tokio
    /// runtime.
    pub fn new(config: &RedisIndexConfig) -> Result<Self, IndexError> {
        let link = RedisLink::new(&config.url, &config.sentinel, config.call_timeout).map_err(
            |source| {
                IndexError::Unavailable(BackendError::Redis {
                    operation: "settings",
                    source,
                })
            },
        )?;
        let (changes, _) = broadcast::channel(CHANGES_CAPACITY);
        let listener = spawn_listener(link.clone(), changes.clone(), config.call_timeout);
        Ok(Self {
            link,
            scripts: Scripts::new(),
            call_timeout: config.call_timeout,
            changes,
            listener,
        })
    }

    /// The index over an existing link (control's own connection): no second connection
    /// pool, and no change listener (nothing reads changes through it: `changes` then
    /// never announces anything).
    pub fn over_link(link: RedisLink, call_timeout: Duration) -> Self {
        let (changes, _) = broadcast::channel(CHANGES_CAPACITY);
        let listener = tokio::spawn(async {}).abort_handle();
        Self {
            link,
            scripts: Scripts::new(),
            call_timeout,
            changes,
            listener,
        }
    }

    /// Runs one read-only script under the call deadline.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        operation: &'static str,
        stream_id: &StreamId,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, IndexError> {
        self.call(operation, stream_id, invocation, false).await
    }

    /// Runs one writing script and then `WAIT`s for the configured replicas, both under the
    /// call deadline: an acknowledged write survives a Sentinel failover.
    pub(crate) async fn run_durable<T: FromRedisValue>(
        &self,
        operation: &'static str,
        stream_id: &StreamId,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, IndexError> {
        self.call(operation, stream_id, invocation, true).await
    }

    async fn call<T: FromRedisValue>(
        &self,
        operation: &'static str,
        stream_id: &StreamId,
        invocation: &ScriptInvocation<'_>,
        durable: bool,
    ) -> Result<T, IndexError> {
        let mut handle = self.link.handle();
        let attempt = async {
            let reply = invocation.invoke_async(&mut handle).await?;
            if durable {
                self.link.wait_replicas(&mut handle).await?;
            }
            Ok::<T, redis::RedisError>(reply)
        };
        let failure = match timeout(self.call_timeout, attempt).await {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(source)) => BackendError::Redis { operation, source },
            Err(_) => {
                let elapsed = std::io::Error::new(std::io::ErrorKind::TimedOut, "call deadline");
                handle.failed(&redis::RedisError::from(elapsed)).await;
                BackendError::Other(format!(
                    "redis {operation} timed out after {:?}",
                    self.call_timeout
                ))
            }
        };
        tracing::warn!(%stream_id, operation, error = %failure, "index call failed");
        Err(IndexError::Unavailable(failure))
    }
}

impl Drop for RedisIndex {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Parses a decimal the scripts returned.
pub(crate) fn number(text: &str) -> Result<u64, IndexError> {
    text.parse().map_err(|_| {
        IndexError::Unavailable(format!("redis returned a bad number {text:?}").into())
    })
}

/// Decodes the records a script returned.
pub(crate) fn decode_records(encoded: &[String]) -> Result<Vec<SegmentRecord>, IndexError> {
    encoded
        .iter()
        .map(|record| decode_record(record).map_err(|bad| IndexError::Unavailable(bad.into())))
        .collect()
}

/// Maps a script's refusal (`stale`, `rewind`) to its error.
fn refusal(status: &str, value: &str, epoch: Epoch, msn: Msn) -> IndexError {
    match (status, number(value)) {
        ("stale", Ok(current)) => IndexError::StaleEpoch {
            offered: epoch,
            current: Epoch(current),
        },
        ("rewind", Ok(last)) => IndexError::SequenceRewind {
            offered: msn,
            last: Msn(last),
        },
        (_, Err(error)) => error,
        _ => IndexError::Unavailable(format!("unexpected index script status {status:?}").into()),
    }
}

#[async_trait]
impl SegmentIndex for RedisIndex {
    async fn open_session(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
    ) -> Result<SessionStart, IndexError> {
        let mut invocation = self.scripts.open_session.prepare_invoke();
        invocation
            .key(keys::index_meta(stream_id))
            .key(keys::index_segments(stream_id))
            .arg(epoch.to_string())
            .arg(keys::INDEX_CHANGED_CHANNEL)
            .arg(stream_id.as_str())
            .arg(keys::index_prefix(stream_id));
        let (status, last, discontinuity, retired): (String, String, String, Vec<String>) = self
            .run_durable("open_session", stream_id, &invocation)
            .await?;
        if status != "ok" {
            return Err(refusal(&status, &last, epoch, Msn(0)));
        }
        let next_msn = match last.as_str() {
            "" => Msn(0),
            last => Msn(number(last)?).next(),
        };
        Ok(SessionStart {
            next_msn,
            discontinuity: discontinuity == "1",
            retired: decode_records(&retired)?,
        })
    }

    async fn append_recorded(
        &self,
        stream_id: &StreamId,
        record: SegmentRecord,
        retain: usize,
        recording: Option<RecordingPolicy>,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        let mut invocation = self.scripts.append.prepare_invoke();
        let previous_msn = match record.msn.get() {
            0 => String::new(),
            msn => (msn - 1).to_string(),
        };
        let duration = i64::try_from(record.duration_ms).unwrap_or(i64::MAX);
        let media_end_ms = record.program_date_time_ms.saturating_add(duration);
        let policy = recording.unwrap_or(RecordingPolicy {
            retention_ms: 0,
            max_duration_ms: 0,
        });
        invocation
            .key(keys::index_meta(stream_id))
            .key(keys::index_segments(stream_id))
            .arg(record.epoch.to_string())
            .arg(record.msn.to_string())
            .arg(encode_record(&record))
            .arg(retain.max(1))
            .arg(keys::INDEX_CHANGED_CHANNEL)
            .arg(stream_id.as_str())
            .arg(keys::index_prefix(stream_id))
            .arg(if recording.is_some() { "1" } else { "0" })
            .arg(policy.retention_ms.to_string())
            .arg(policy.max_duration_ms.to_string())
            .arg(previous_msn)
            .arg(record.duration_ms.to_string())
            .arg(record.bytes.to_string())
            .arg(record.program_date_time_ms.to_string())
            .arg(media_end_ms.to_string())
            .arg(if record.discontinuity { "1" } else { "0" })
            .arg(MAX_RECORDING_SEGMENTS.to_string());
        let (status, value, trimmed): (String, String, Vec<String>) =
            self.run_durable("append", stream_id, &invocation).await?;
        if status != "ok" {
            return Err(refusal(&status, &value, record.epoch, record.msn));
        }
        decode_records(&trimmed)
    }

    async fn close_session(&self, stream_id: &StreamId, epoch: Epoch) -> Result<(), IndexError> {
        let mut invocation = self.scripts.close_session.prepare_invoke();
        invocation
            .key(keys::index_meta(stream_id))
            .arg(epoch.to_string())
            .arg(keys::INDEX_CHANGED_CHANNEL)
            .arg(stream_id.as_str())
            .arg(keys::index_prefix(stream_id))
            .arg(crate::stream_state::now_ms().to_string());
        let (status, value): (String, String) = self
            .run_durable("close_session", stream_id, &invocation)
            .await?;
        if status != "ok" {
            return Err(refusal(&status, &value, epoch, Msn(0)));
        }
        Ok(())
    }

    async fn load(&self, stream_id: &StreamId) -> Result<Option<IndexState>, IndexError> {
        let mut invocation = self.scripts.load.prepare_invoke();
        invocation
            .key(keys::index_meta(stream_id))
            .key(keys::index_segments(stream_id));
        let reply: Option<(String, String, String, String, Vec<String>)> =
            self.run("load", stream_id, &invocation).await?;
        let Some((epoch, ended, discontinuity_base, generation, records)) = reply else {
            return Ok(None);
        };
        Ok(Some(IndexState {
            segments: decode_records(&records)?,
            discontinuity_base: number(&discontinuity_base)?,
            ended: ended == "1",
            epoch: Epoch(number(&epoch)?),
            generation: Epoch(number(&generation)?),
        }))
    }

    async fn recordings(&self, stream_id: &StreamId) -> Result<Vec<RecordingSummary>, IndexError> {
        self.load_recordings(stream_id).await
    }

    async fn recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Option<Recording>, IndexError> {
        self.load_recording(stream_id, generation).await
    }

    async fn recording_segment(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
        msn: Msn,
    ) -> Result<Option<(RecordingSummary, SegmentRecord)>, IndexError> {
        self.load_recording_segment(stream_id, generation, msn)
            .await
    }

    async fn retire_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Retired, IndexError> {
        self.retire(stream_id, generation).await
    }

    async fn forget_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<bool, IndexError> {
        self.forget(stream_id, generation).await
    }

    fn changes(&self) -> broadcast::Receiver<IndexChange> {
        self.changes.subscribe()
    }
}
