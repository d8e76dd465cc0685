//! Segment objects in an S3-compatible store, a local directory or memory, behind
//! `object_store`. Every call has a deadline; writes retry with backoff within a bound.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocast_base::{Epoch, StreamId};
use object_store::path::Path;
use object_store::{ListResult, ObjectStore, ObjectStoreExt, PutMode, PutOptions};
use tokio::time::{sleep, timeout};

use crate::keys::{self, SessionObject};

/// How a failed PUT or GET is retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Deadline of one try.
    pub attempt_timeout: Duration,
    /// Wait before the second try; doubles after each failure.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            attempt_timeout: Duration::from_secs(10),
            first_backoff: Duration::from_millis(200),
        }
    }
}

/// Why a segment could not be stored or read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("segment object not found")]
    NotFound,
    /// A different write already created this key.
    #[error("segment object already exists")]
    AlreadyExists,
    /// Every try failed; the last failure is given.
    #[error("object store failed after {attempts} tries: {last}")]
    Exhausted {
        /// Tries made.
        attempts: u32,
        /// The last failure.
        #[source]
        last: ObjectFailure,
    },
    /// The object store is misconfigured; the message names every bad setting.
    #[error("object store config: {0}")]
    Config(String),
    /// The S3 client could not be built from its settings.
    #[error("s3 client: {0}")]
    S3(#[source] Arc<object_store::Error>),
}

/// What one try of an object-store call ran into.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ObjectFailure {
    /// The store answered with an error.
    #[error(transparent)]
    Store(Arc<object_store::Error>),
    /// No answer within the deadline.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// The shared read this caller waited on ended without a result.
    #[error("shared segment read was aborted")]
    Aborted,
}

impl From<object_store::Error> for ObjectFailure {
    fn from(error: object_store::Error) -> Self {
        ObjectFailure::Store(Arc::new(error))
    }
}

/// Reads and writes segment objects under one key prefix.
#[derive(Clone)]
pub struct SegmentStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    retry: RetryPolicy,
}

impl SegmentStore {
    /// Wraps an object store.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: impl Into<String>, retry: RetryPolicy) -> Self {
        Self {
            store,
            prefix: prefix.into(),
            retry,
        }
    }

    /// Deadline of one GET, which bounds how long a reader may wait on one.
    pub(crate) fn attempt_timeout(&self) -> Duration {
        self.retry.attempt_timeout
    }

    /// Stores segment `seq` of the session `epoch`; returns once the store has acknowledged it.
    ///
    /// Keys are immutable, so the PUT is create-only. "Already exists" on a retry means an
    /// earlier try of ours landed after its deadline, which is a success.
    pub async fn put(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        seq: u64,
        data: Bytes,
    ) -> Result<(), StoreError> {
        self.put_object(stream_id, epoch, SessionObject::Ts { seq }, data)
            .await
    }

    /// Stores `object` of the session `epoch`, as [`SegmentStore::put`] does a segment.
    pub async fn put_object(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        object: SessionObject,
        data: Bytes,
    ) -> Result<(), StoreError> {
        let path = keys::object(&self.prefix, stream_id, epoch, object);
        let mut backoff = self.retry.first_backoff;
        // Replaced by every failed try; stands only if the policy allows no try at all.
        let mut last = ObjectFailure::Aborted;
        // Set once a failed try may still have reached the store (timeout, transport error).
        let mut earlier_try_may_have_landed = false;
        for attempt in 1..=self.retry.attempts {
            let options = PutOptions::from(PutMode::Create);
            let put = self.store.put_opts(&path, data.clone().into(), options);
            match timeout(self.retry.attempt_timeout, put).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(object_store::Error::AlreadyExists { .. })) => {
                    if earlier_try_may_have_landed {
                        return Ok(());
                    }
                    return Err(StoreError::AlreadyExists);
                }
                Ok(Err(error)) => last = error.into(),
                Err(_) => last = ObjectFailure::TimedOut(self.retry.attempt_timeout),
            }
            earlier_try_may_have_landed = true;
            tracing::warn!(%path, attempt, error = %last, "segment put failed");
            if attempt < self.retry.attempts {
                sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(StoreError::Exhausted {
            attempts: self.retry.attempts,
            last,
        })
    }

    /// Reads segment `seq` of the session `epoch`.
    pub async fn get(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        seq: u64,
    ) -> Result<Bytes, StoreError> {
        self.get_object(stream_id, epoch, SessionObject::Ts { seq })
            .await
    }

    /// Reads `object` of the session `epoch`.
    pub async fn get_object(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        object: SessionObject,
    ) -> Result<Bytes, StoreError> {
        let path = keys::object(&self.prefix, stream_id, epoch, object);
        let read = async { self.store.get(&path).await?.bytes().await };
        match timeout(self.retry.attempt_timeout, read).await {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(object_store::Error::NotFound { .. })) => Err(StoreError::NotFound),
            Ok(Err(error)) => Err(StoreError::Exhausted {
                attempts: 1,
                last: error.into(),
            }),
            Err(_) => Err(StoreError::Exhausted {
                attempts: 1,
                last: ObjectFailure::TimedOut(self.retry.attempt_timeout),
            }),
        }
    }

    /// Deletes a segment that left the index; a missing object is fine.
    pub async fn delete(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        seq: u64,
    ) -> Result<(), StoreError> {
        self.delete_object(stream_id, epoch, SessionObject::Ts { seq })
            .await
    }

    /// Deletes `object` of the session `epoch`; a missing object is fine.
    pub async fn delete_object(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        object: SessionObject,
    ) -> Result<(), StoreError> {
        let path = keys::object(&self.prefix, stream_id, epoch, object);
        self.delete_path(&path).await
    }

    /// Deletes the CMAF init segments of every session of the stream older than `epoch`: once
    /// the index lists no segment of those sessions, nothing can name them. One LIST of the
    /// stream's session prefixes, one per older session, and a DELETE per init found; returns
    /// how many were deleted.
    pub async fn delete_inits_before(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
    ) -> Result<usize, StoreError> {
        let stream = keys::stream_objects(&self.prefix, stream_id);
        let sessions = self.list(Some(&stream)).await?;
        let mut deleted = 0;
        for session in sessions.common_prefixes {
            let older = session
                .filename()
                .and_then(|name| name.parse::<u64>().ok())
                .is_some_and(|session_epoch| session_epoch < epoch.get());
            if !older {
                continue;
            }
            let objects = self.list(Some(&session)).await?.objects;
            let inits = objects
                .iter()
                .filter(|meta| meta.location.filename().is_some_and(keys::is_cmaf_init));
            for init in inits {
                self.delete_path(&init.location).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Deletes every object of the session `epoch` of the stream (its TS and CMAF segments
    /// and init segments): a recording's sessions go whole when it is deleted (ADR 21). One
    /// LIST of `<prefix>/<stream>/<epoch>/` and a DELETE per object; deleting a missing object
    /// is fine, so a retry or a second deleter does no harm. Returns how many were deleted.
    pub async fn delete_session(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
    ) -> Result<usize, StoreError> {
        let session = keys::session_objects(&self.prefix, stream_id, epoch);
        let objects = self.list(Some(&session)).await?.objects;
        for object in &objects {
            self.delete_path(&object.location).await?;
        }
        Ok(objects.len())
    }

    async fn list(&self, prefix: Option<&Path>) -> Result<ListResult, StoreError> {
        let listing = self.store.list_with_delimiter(prefix);
        match timeout(self.retry.attempt_timeout, listing).await {
            Ok(Ok(listed)) => Ok(listed),
            Ok(Err(error)) => Err(StoreError::Exhausted {
                attempts: 1,
                last: error.into(),
            }),
            Err(_) => Err(StoreError::Exhausted {
                attempts: 1,
                last: ObjectFailure::TimedOut(self.retry.attempt_timeout),
            }),
        }
    }

    async fn delete_path(&self, path: &Path) -> Result<(), StoreError> {
        match timeout(self.retry.attempt_timeout, self.store.delete(path)).await {
            Ok(Ok(())) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(error)) => Err(StoreError::Exhausted {
                attempts: 1,
                last: error.into(),
            }),
            Err(_) => Err(StoreError::Exhausted {
                attempts: 1,
                last: ObjectFailure::TimedOut(self.retry.attempt_timeout),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_media::cmaf::TrackKind;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn inits_of_older_sessions_go_and_the_rest_stays() {
        let store = SegmentStore::new(Arc::new(InMemory::new()), "p", RetryPolicy::default());
        let s = &StreamId::new("s");
        let init = |version| SessionObject::CmafInit {
            version,
            track: TrackKind::Video,
        };
        let segment = SessionObject::CmafSegment {
            seq: 0,
            track: TrackKind::Audio,
        };
        for epoch in [Epoch(1), Epoch(2), Epoch(3)] {
            for object in [init(0), init(1), segment] {
                let data = Bytes::from_static(b"x");
                store.put_object(s, epoch, object, data).await.unwrap();
            }
        }
        assert_eq!(store.delete_inits_before(s, Epoch(3)).await.unwrap(), 4);
        for epoch in [Epoch(1), Epoch(2)] {
            assert!(store.get_object(s, epoch, init(0)).await.is_err());
            assert!(store.get_object(s, epoch, segment).await.is_ok());
        }
        assert!(store.get_object(s, Epoch(3), init(1)).await.is_ok());
    }

    #[tokio::test]
    async fn a_session_is_deleted_whole_and_only_it() {
        let store = SegmentStore::new(Arc::new(InMemory::new()), "p", RetryPolicy::default());
        let s = &StreamId::new("s");
        let init = SessionObject::CmafInit {
            version: 0,
            track: TrackKind::Video,
        };
        for epoch in [Epoch(1), Epoch(2), Epoch(11)] {
            for object in [
                SessionObject::Ts { seq: 0 },
                SessionObject::Ts { seq: 1 },
                init,
            ] {
                let data = Bytes::from_static(b"x");
                store.put_object(s, epoch, object, data).await.unwrap();
            }
        }
        assert_eq!(store.delete_session(s, Epoch(1)).await.unwrap(), 3);
        assert_eq!(
            store.delete_session(s, Epoch(1)).await.unwrap(),
            0,
            "idempotent"
        );
        assert!(store.get(s, Epoch(1), 0).await.is_err());
        // `1/` is not a prefix of `11/`: the session's folder is matched whole.
        assert!(store.get(s, Epoch(11), 0).await.is_ok());
        assert!(store.get_object(s, Epoch(2), init).await.is_ok());
    }

    #[tokio::test]
    async fn put_get_delete_round_trip_and_keys_are_create_only() {
        let store = SegmentStore::new(Arc::new(InMemory::new()), "p", RetryPolicy::default());
        let s = &StreamId::new("s");
        store
            .put(s, Epoch(1), 7, Bytes::from_static(b"ts"))
            .await
            .unwrap();
        assert_eq!(
            store.get(s, Epoch(1), 7).await.unwrap(),
            Bytes::from_static(b"ts")
        );
        let overwrite = store
            .put(s, Epoch(1), 7, Bytes::from_static(b"other"))
            .await;
        assert!(
            matches!(overwrite, Err(StoreError::AlreadyExists)),
            "never overwritten"
        );
        assert_eq!(
            store.get(s, Epoch(1), 7).await.unwrap(),
            Bytes::from_static(b"ts")
        );
        store.delete(s, Epoch(1), 7).await.unwrap();
        assert!(matches!(
            store.get(s, Epoch(1), 7).await,
            Err(StoreError::NotFound)
        ));
    }
}
