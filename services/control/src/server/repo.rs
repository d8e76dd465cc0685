//! Streams in Redis, and the deadline every Redis call of the control service goes through.
//! Leases and nodes extend [`Repo`] in their own modules.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use ferrocast_base::{PlaybackId, PlaybackPolicy, StreamId};
use ferrocast_store::{LinkHandle, RedisLink};
use redis::{RedisResult, Script};

use super::keys;
use crate::credentials::{key_hash_hex, new_playback_id, new_stream_id, new_stream_key};
use crate::{DvrWindow, Retention, StreamRecord};

/// MGET batch size: bounds one reply while keeping round trips few.
const MGET_BATCH: usize = 256;

/// Random ids practically never collide; a few attempts make a collision a retry, not a bug.
const CREATE_ATTEMPTS: usize = 4;

/// Creates a stream only if neither its id nor its playback id is taken, atomically.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: stream, playback, streams set; ARGV: record json, stream id, playback id
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
",
    )
});

/// Replaces a record only if it is still the one read (compare and set), so concurrent key
/// rotations cannot both report success and a policy change cannot undo a rotation.
static REPLACE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: stream; ARGV: expected json, new json. 1 = replaced, 0 = changed meanwhile, -1 = gone
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
",
    )
});

/// Deletes a stream with its playback mapping and lease. The epoch counter stays, so the
/// id's epochs keep growing even if it were ever reused.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: stream, playback, streams set, lease; ARGV: stream id
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[4])
redis.call('SREM', KEYS[3], ARGV[1])
return 1
",
    )
});

/// Why a Redis operation failed. Names the operation and ids, never values.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// Redis did not answer within the deadline.
    #[error("redis {op} timed out after {timeout:?}")]
    Timeout {
        /// The operation.
        op: &'static str,
        /// The deadline.
        timeout: Duration,
    },
    /// Redis answered with an error or the connection failed.
    #[error("redis {op} failed: {source}")]
    Redis {
        /// The operation.
        op: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// A stored value does not decode.
    #[error("corrupt value at {key}: {detail}")]
    Corrupt {
        /// The Redis key (ids only).
        key: String,
        /// What is wrong.
        detail: String,
    },
}

/// The control plane's Redis state.
#[derive(Clone)]
pub struct Repo {
    redis: RedisLink,
    timeout: Duration,
}

impl Repo {
    /// A repository whose every call gives up after `timeout`.
    pub fn new(redis: RedisLink, timeout: Duration) -> Self {
        Self { redis, timeout }
    }

    /// A handle for one call or a write and its [`Repo::wait_replicas`]: the link multiplexes,
    /// reconnects and follows a Sentinel failover by itself.
    pub(super) fn con(&self) -> LinkHandle {
        self.redis.handle()
    }

    /// After a write through `con`, waits until the configured replicas hold it (`WAIT`), so
    /// the write survives a Redis failover; too few confirmations is a Redis error (control
    /// answers unavailable, the caller retries).
    pub(super) async fn wait_replicas(
        &self,
        op: &'static str,
        con: &mut LinkHandle,
    ) -> Result<(), RepoError> {
        self.deadline(op, self.redis.wait_replicas(con)).await
    }

    /// Whether `key` exists.
    pub(super) async fn exists(&self, key: &str) -> Result<bool, RepoError> {
        let mut con = self.con();
        self.deadline(
            "exists",
            redis::cmd("EXISTS").arg(key).query_async(&mut con),
        )
        .await
    }

    /// Takes `key` for `hold` if nobody holds it (`SET NX PX`); whether this call took it.
    pub(super) async fn claim(&self, key: &str, hold: Duration) -> Result<bool, RepoError> {
        let millis = super::config::millis(hold);
        let mut con = self.con();
        let set: Option<String> = self
            .deadline(
                "claim",
                redis::cmd("SET")
                    .arg(key)
                    .arg("1")
                    .arg("NX")
                    .arg("PX")
                    .arg(millis)
                    .query_async(&mut con),
            )
            .await?;
        Ok(set.is_some())
    }

    /// Runs one Redis call under the deadline.
    pub(super) async fn deadline<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, RepoError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(RepoError::Redis { op, source }),
            Err(_) => Err(RepoError::Timeout {
                op,
                timeout: self.timeout,
            }),
        }
    }

    /// `GET` for many keys, batched.
    pub(super) async fn mget(
        &self,
        op: &'static str,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, RepoError> {
        let mut values = Vec::with_capacity(keys.len());
        for batch in keys.chunks(MGET_BATCH) {
            let mut con = self.con();
            let got: Vec<Option<String>> = self
                .deadline(op, redis::cmd("MGET").arg(batch).query_async(&mut con))
                .await?;
            values.extend(got);
        }
        Ok(values)
    }

    /// Creates a stream; returns it with its secret key, which exists nowhere else.
    pub async fn create_stream(
        &self,
        name: &str,
        playback_policy: PlaybackPolicy,
        recording_retention: Retention,
        dvr_window: DvrWindow,
        now_ms: i64,
    ) -> Result<(StreamRecord, String), RepoError> {
        let mut last_id = StreamId::default();
        for _ in 0..CREATE_ATTEMPTS {
            let id = new_stream_id();
            let key = new_stream_key(&id);
            let record = StreamRecord {
                id: id.clone(),
                playback_id: new_playback_id(),
                key_sha256: key_hash_hex(&key),
                name: name.to_owned(),
                created_at_ms: now_ms,
                playback_policy,
                recording_retention,
                dvr_window,
            };
            let json = encode(&record, id.as_str())?;
            let mut con = self.con();
            let created: i64 = self
                .deadline(
                    "create stream",
                    CREATE
                        .key(keys::stream(&id))
                        .key(keys::playback(&record.playback_id))
                        .key(keys::STREAMS)
                        .arg(json)
                        .arg(id.as_str())
                        .arg(record.playback_id.as_str())
                        .invoke_async(&mut con),
                )
                .await?;
            if created == 1 {
                return Ok((record, key));
            }
            last_id = id;
        }
        Err(RepoError::Corrupt {
            key: keys::stream(&last_id),
            detail: format!("no free stream id after {CREATE_ATTEMPTS} attempts"),
        })
    }

    /// A stream by id.
    pub async fn stream(&self, stream_id: &StreamId) -> Result<Option<StreamRecord>, RepoError> {
        Ok(self.stream_raw(stream_id).await?.map(|(record, _)| record))
    }

    /// A stream with the exact stored text (for compare-and-set).
    async fn stream_raw(
        &self,
        stream_id: &StreamId,
    ) -> Result<Option<(StreamRecord, String)>, RepoError> {
        let key = keys::stream(stream_id);
        let mut con = self.con();
        let raw: Option<String> = self
            .deadline(
                "get stream",
                redis::cmd("GET").arg(&key).query_async(&mut con),
            )
            .await?;
        raw.map(|raw| Ok((decode(&raw, &key)?, raw))).transpose()
    }

    /// A stream by playback id.
    pub async fn stream_by_playback(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<StreamRecord>, RepoError> {
        let mut con = self.con();
        let stream_id: Option<String> = self
            .deadline(
                "get playback",
                redis::cmd("GET")
                    .arg(keys::playback(playback_id))
                    .query_async(&mut con),
            )
            .await?;
        // A Redis value: where a stream id enters from outside this process.
        match stream_id {
            Some(stream_id) => self.stream(&StreamId::new(stream_id)).await,
            None => Ok(None),
        }
    }

    /// Every stream, oldest first.
    pub async fn streams(&self) -> Result<Vec<StreamRecord>, RepoError> {
        let mut con = self.con();
        let ids: Vec<String> = self
            .deadline(
                "list streams",
                redis::cmd("SMEMBERS")
                    .arg(keys::STREAMS)
                    .query_async(&mut con),
            )
            .await?;
        let keys: Vec<String> = ids
            .into_iter()
            .map(|id| keys::stream(&StreamId::new(id)))
            .collect();
        let mut records = Vec::with_capacity(keys.len());
        for (key, raw) in keys.iter().zip(self.mget("get streams", &keys).await?) {
            // A member without a record is a delete racing this read: skip it.
            if let Some(raw) = raw {
                records.push(decode::<StreamRecord>(&raw, key)?);
            }
        }
        records.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(records)
    }

    /// Gives a stream a new secret key (the old one stops working at once). `None` if the
    /// stream does not exist.
    pub async fn rotate_key(&self, stream_id: &StreamId) -> Result<Option<String>, RepoError> {
        let mut key = String::new();
        let rotated = self
            .update_stream(stream_id, |record| {
                key = new_stream_key(stream_id);
                record.key_sha256 = key_hash_hex(&key);
            })
            .await?;
        Ok(rotated.map(|_| key))
    }

    /// Changes a stream's record with `change` (compare and set: a concurrent change makes
    /// it read and apply again). Answers the stored record, `None` if the stream does not
    /// exist.
    pub async fn update_stream(
        &self,
        stream_id: &StreamId,
        mut change: impl FnMut(&mut StreamRecord),
    ) -> Result<Option<StreamRecord>, RepoError> {
        for _ in 0..CREATE_ATTEMPTS {
            let Some((mut record, expected)) = self.stream_raw(stream_id).await? else {
                return Ok(None);
            };
            change(&mut record);
            let json = encode(&record, stream_id.as_str())?;
            let mut con = self.con();
            let outcome: i64 = self
                .deadline(
                    "update stream",
                    REPLACE
                        .key(keys::stream(stream_id))
                        .arg(expected)
                        .arg(json)
                        .invoke_async(&mut con),
                )
                .await?;
            match outcome {
                1 => return Ok(Some(record)),
                -1 => return Ok(None),
                _ => continue, // changed concurrently: read again
            }
        }
        Err(RepoError::Corrupt {
            key: keys::stream(stream_id),
            detail: "record kept changing during an update".into(),
        })
    }

    /// Deletes a stream (and ends its lease). `false` if it did not exist.
    pub async fn delete_stream(&self, stream_id: &StreamId) -> Result<bool, RepoError> {
        let Some(record) = self.stream(stream_id).await? else {
            return Ok(false);
        };
        let mut con = self.con();
        let deleted: i64 = self
            .deadline(
                "delete stream",
                DELETE
                    .key(keys::stream(stream_id))
                    .key(keys::playback(&record.playback_id))
                    .key(keys::STREAMS)
                    .key(keys::lease(stream_id))
                    .arg(stream_id.as_str())
                    .invoke_async(&mut con),
            )
            .await?;
        Ok(deleted == 1)
    }
}

/// JSON of a value to store; `id` names it in the error.
pub(super) fn encode<T: serde::Serialize>(value: &T, id: &str) -> Result<String, RepoError> {
    serde_json::to_string(value).map_err(|error| RepoError::Corrupt {
        key: id.to_owned(),
        detail: error.to_string(),
    })
}

/// A stored JSON value; `key` names it in the error.
pub(super) fn decode<T: serde::de::DeserializeOwned>(raw: &str, key: &str) -> Result<T, RepoError> {
    serde_json::from_str(raw).map_err(|error| RepoError::Corrupt {
        key: key.to_owned(),
        detail: error.to_string(),
    })
}
