//! Stores each finished segment, then lists it: object before index, one at a time and in
//! order, so the index never names a missing object and sequence numbers stay contiguous.

use std::time::{Duration, Instant};

use ferrocast_control::PublishGrant;
use ferrocast_media::hls::Segment;
use ferrocast_store::{IndexError, SegmentIndex, SegmentRecord, SegmentStore, SessionStart};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::publishing::PublishStats;
use crate::{OriginConfig, OriginDeps, metrics};

/// Deadline of one index call.
pub const INDEX_TIMEOUT: Duration = Duration::from_secs(3);

/// A finished segment on its way to storage.
pub struct Job {
    /// The segment.
    pub segment: Segment,
    /// Wall-clock time of its first frame, Unix ms.
    pub program_date_time_ms: i64,
    /// Segments were dropped just before this one.
    pub gap_before: bool,
}

/// The upload loop of one publish session.
pub struct Uploader {
    stream_id: String,
    epoch: u64,
    index: Arc<dyn SegmentIndex>,
    store: SegmentStore,
    retain: usize,
    next_msn: u64,
    discontinuity_next: bool,
    fenced: bool,
    stats: Arc<PublishStats>,
}

impl Uploader {
    /// An uploader that continues the stream where `start` says.
    pub fn new(
        grant: &PublishGrant,
        start: SessionStart,
        config: &OriginConfig,
        deps: &OriginDeps,
        stats: Arc<PublishStats>,
    ) -> Self {
        Self {
            stream_id: grant.stream_id.clone(),
            epoch: grant.epoch,
            index: deps.index.clone(),
            store: deps.store.clone(),
            retain: config.hls.retain.max(config.hls.window),
            next_msn: start.next_msn,
            discontinuity_next: start.discontinuity,
            fenced: false,
            stats,
        }
    }

    /// Uploads every job, then marks the session ended in the index.
    pub async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(job) = jobs.recv().await {
            self.upload(job).await;
        }
        if self.fenced {
            return;
        }
        let closing = self.index.close_session(&self.stream_id, self.epoch);
        match timeout(INDEX_TIMEOUT, closing).await {
            Ok(Ok(())) => tracing::info!(stream_id = %self.stream_id, "playlist ended"),
            Ok(Err(error)) => {
                tracing::error!(stream_id = %self.stream_id, %error, "could not end playlist")
            }
            Err(_) => {
                tracing::error!(stream_id = %self.stream_id, "could not end playlist: index timed out")
            }
        }
    }

    async fn upload(&mut self, job: Job) {
        if self.fenced {
            return;
        }
        self.discontinuity_next |= job.gap_before;
        let msn = self.next_msn;
        let data = job.segment.data.clone();
        let (bytes, putting) = (data.len(), Instant::now());
        if let Err(error) = self.store.put(&self.stream_id, self.epoch, msn, data).await {
            metrics::segment_upload_failed(putting.elapsed());
            tracing::error!(stream_id = %self.stream_id, msn, %error, "segment lost: object store failed");
            self.discontinuity_next = true;
            return;
        }
        metrics::segment_uploaded(putting.elapsed(), bytes);
        let record = SegmentRecord {
            msn,
            epoch: self.epoch,
            // Named by the msn until the origin counts its own seq (decision 1).
            seq: msn,
            duration_ms: job.segment.duration_ms,
            bytes: bytes as u64,
            program_date_time_ms: job.program_date_time_ms,
            discontinuity: self.discontinuity_next,
        };
        let appending = self.index.append(&self.stream_id, record, self.retain);
        let indexing = Instant::now();
        let appended = timeout(INDEX_TIMEOUT, appending)
            .await
            .unwrap_or_else(|_| Err(IndexError::Unavailable("append timed out".into())));
        match appended {
            Ok(trimmed) => {
                metrics::segment_indexed(indexing.elapsed());
                self.stats.segment_indexed();
                tracing::debug!(stream_id = %self.stream_id, msn, "segment indexed");
                self.next_msn += 1;
                self.discontinuity_next = false;
                for old in trimmed {
                    if let Err(error) = self.store.delete(&self.stream_id, old.epoch, old.seq).await
                    {
                        tracing::warn!(stream_id = %self.stream_id, msn = old.msn, %error, "old segment not deleted");
                    }
                }
            }
            Err(IndexError::StaleEpoch { current, .. }) => {
                metrics::index_write_failed(indexing.elapsed(), true);
                tracing::warn!(stream_id = %self.stream_id, epoch = self.epoch, current, "fenced out by a newer publisher");
                self.fenced = true;
            }
            Err(error) => {
                metrics::index_write_failed(indexing.elapsed(), false);
                tracing::error!(stream_id = %self.stream_id, msn, %error, "segment lost: index write failed");
                // The object is unlisted; remove it so its key can carry the next segment.
                let _ = self.store.delete(&self.stream_id, self.epoch, msn).await;
                self.discontinuity_next = true;
            }
        }
    }
}
