//! Stores each finished segment, then lists it: object before index, one at a time and in
//! order, so the index never names a missing object and media sequence numbers stay
//! contiguous. Finished segments wait in a bounded in-memory queue ([`queue`]); a PUT and an
//! index append are retried with capped backoff, without a limit on attempts, until they
//! succeed, the segment is dropped by a bound, or a newer session fences this one out.
//!
//! The session's CMAF objects go through a lane of their own ([`cmaf`]) under the same rules,
//! so they never hold up a TS segment. A segment's CMAF objects are deleted with its TS
//! object; a session's init segments when the index no longer lists any of its segments.

mod budget;
mod cmaf;
mod delete;
mod ledger;
mod listing;
mod queue;
mod retention;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrocast_base::{Epoch, Msn, StreamId};
use ferrocast_control_client::PublishGrant;
use ferrocast_store::{RecordingPolicy, SegmentIndex, SegmentRecord, SegmentStore, SessionStart};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep};

pub use budget::BufferBudget;
pub use cmaf::CmafObject;
pub use queue::{DropReason, Dropped, Finished, Limits, StreamBytes};

use crate::publish::PublishStats;
use crate::{OriginConfig, OriginDeps, metrics};
use cmaf::{CmafLane, CmafQueue, CmafShared};
use queue::{SegmentQueue, Work};
use retention::Retention;

/// Deadline of one index call.
pub const INDEX_TIMEOUT: Duration = Duration::from_secs(3);
/// First wait after a failed PUT or append; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between two tries: a recovered store or index is used within this.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long a recorded segment's listing waits for its CMAF objects to be stored (ADR 24):
/// they were queued first and are smaller, so this is reached only when the store struggles,
/// and then the recording goes without them rather than its TS segment waiting longer.
const CMAF_SETTLE: Duration = Duration::from_secs(1);

/// How an uploader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// A newer session owns the stream: this one must not end its playlist.
    pub fenced: bool,
}

/// The queue shared by a publish session (which pushes) and its uploader (which drains).
struct Shared {
    queue: Mutex<SegmentQueue>,
    /// Woken on a push and on close; a permit is kept when nobody waits.
    wake: Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SegmentQueue> {
        ferrocast_base::lock(&self.queue)
    }
}

/// The publish session's end of the queue.
pub struct Uploads {
    stream_id: StreamId,
    shared: Arc<Shared>,
    cmaf: Arc<CmafShared>,
}

impl Uploads {
    /// Queues a finished segment; never waits (the bounds drop instead).
    pub fn push(&self, segment: Finished) {
        let dropped = self.shared.lock().push(segment, Instant::now());
        report_drops(&self.stream_id, &dropped);
        self.shared.wake.notify_one();
    }

    /// Queues CMAF objects (a segment's tracks, new init segments); never waits.
    pub fn push_cmaf(&self, objects: Vec<CmafObject>) {
        if !objects.is_empty() {
            self.cmaf.push(objects);
        }
    }

    /// No more segments: the uploader ends once the queues are drained.
    pub fn close(&self) {
        use std::sync::atomic::Ordering;
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        self.cmaf.close();
    }
}

/// The upload loop of one publish session.
pub struct Uploader {
    stream_id: StreamId,
    epoch: Epoch,
    index: Arc<dyn SegmentIndex>,
    store: SegmentStore,
    retention: Retention,
    next_msn: Msn,
    /// The session's first listed segment follows an earlier session.
    discontinuity_first: bool,
    retired: Vec<SegmentRecord>,
    shared: Arc<Shared>,
    stats: Arc<PublishStats>,
    /// Taken by `run`, which drives it beside the TS loop.
    cmaf_lane: Option<CmafLane>,
    cmaf: Arc<CmafShared>,
    /// The newest session whose older sessions' init segments were deleted.
    inits_deleted_before: Option<Epoch>,
    /// The session records its broadcast (ADR 21): every listed segment also goes into the
    /// generation's recording, and the index hands none of those back for deletion.
    recording: Option<RecordingPolicy>,
}

impl Uploader {
    /// An uploader that continues the stream where `start` says, and the handle that feeds it.
    pub fn new(
        grant: &PublishGrant,
        start: SessionStart,
        config: &OriginConfig,
        deps: &OriginDeps,
        stats: Arc<PublishStats>,
    ) -> (Uploads, Self) {
        let limits = Limits {
            bytes_per_stream: config.hls.buffer_bytes_per_stream,
            max_age: config.hls.buffer_max_age,
        };
        let stream_bytes = StreamBytes::default();
        let shared = Arc::new(Shared {
            queue: Mutex::new(SegmentQueue::new(
                limits,
                deps.buffers.clone(),
                stream_bytes.clone(),
            )),
            wake: Notify::new(),
            closed: false.into(),
        });
        let cmaf = Arc::new(CmafShared::new(CmafQueue::new(
            limits,
            deps.buffers.clone(),
            stream_bytes,
        )));
        let uploads = Uploads {
            stream_id: grant.stream_id.clone(),
            shared: shared.clone(),
            cmaf: cmaf.clone(),
        };
        let cmaf_lane = CmafLane {
            stream_id: grant.stream_id.clone(),
            epoch: grant.epoch,
            store: deps.store.clone(),
            shared: cmaf.clone(),
        };
        let uploader = Self {
            stream_id: grant.stream_id.clone(),
            epoch: grant.epoch,
            index: deps.index.clone(),
            store: deps.store.clone(),
            retention: Retention::new(
                config.hls.retain.max(config.hls.window),
                config.hls.window,
                keep_ms(config),
            ),
            next_msn: start.next_msn,
            discontinuity_first: start.discontinuity,
            retired: start.retired,
            shared,
            stats,
            cmaf_lane: Some(cmaf_lane),
            cmaf,
            inits_deleted_before: None,
            recording: grant.recording.map(|grant| {
                let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                RecordingPolicy {
                    retention_ms: millis(grant.retention),
                    max_duration_ms: millis(grant.max_duration),
                }
            }),
        };
        (uploads, uploader)
    }

    /// Stores and lists every segment pushed, and stores every CMAF object pushed, until the
    /// queues are closed and drained.
    pub async fn run(mut self) -> Outcome {
        let lane = self.cmaf_lane.take();
        let lane = async move {
            if let Some(lane) = lane {
                lane.run().await;
            }
        };
        let (outcome, ()) = tokio::join!(self.run_ts(), lane);
        outcome
    }

    async fn run_ts(&mut self) -> Outcome {
        let retired = std::mem::take(&mut self.retired);
        for old in &retired {
            self.delete_object(old).await;
        }
        if !retired.is_empty() {
            // The ended playlist is gone whole: no older session has a listed segment left.
            self.delete_inits_before(self.epoch).await;
        }
        while let Some(work) = self.next_work().await {
            if !self.store_object(&work).await {
                continue;
            }
            if !self.shared.lock().begin_listing(work.segment.seq) {
                // Dropped while being stored, never listed: its object may go.
                self.delete_seq(self.epoch, work.segment.seq).await;
                continue;
            }
            if !self.list(&work).await {
                let dropped = self.shared.lock().fence();
                report_drops(&self.stream_id, &dropped);
                self.cmaf.fence();
                // A session that may no longer list anything ends, so that its encoder
                // reconnects to wherever the stream is owned now.
                self.stats.taken_over().cancel();
                return Outcome { fenced: true };
            }
        }
        Outcome { fenced: false }
    }

    async fn next_work(&self) -> Option<Work> {
        use std::sync::atomic::Ordering;
        loop {
            if let Some(work) = self.shared.lock().head() {
                return Some(work);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return None;
            }
            self.shared.wake.notified().await;
        }
    }

    /// PUTs the segment until the store acknowledges it; false when it was dropped instead.
    async fn store_object(&self, work: &Work) -> bool {
        let segment = &work.segment;
        let mut backoff = FIRST_BACKOFF;
        let mut tried = false;
        loop {
            let started = Instant::now();
            let putting = self.store.put(
                &self.stream_id,
                self.epoch,
                segment.seq,
                segment.data.clone(),
            );
            let put = tokio::select! {
                put = putting => put,
                () = work.dropped.cancelled() => return false,
            };
            match put {
                Ok(()) => {
                    metrics::segment_uploaded(started.elapsed(), segment.data.len());
                    return true;
                }
                // An earlier try of ours landed after its deadline.
                Err(ferrocast_store::StoreError::AlreadyExists) if tried => return true,
                Err(ferrocast_store::StoreError::AlreadyExists) => {
                    tracing::error!(stream_id = %self.stream_id, seq = segment.seq, "segment dropped: its object name is taken");
                    let dropped = self
                        .shared
                        .lock()
                        .drop_segment(segment.seq, DropReason::StoreRefused);
                    report_drops(&self.stream_id, dropped.as_slice());
                    return false;
                }
                Err(error) => {
                    metrics::segment_upload_failed(started.elapsed());
                    tracing::warn!(stream_id = %self.stream_id, seq = segment.seq, %error, retry_in = ?backoff, "segment put failed; retrying");
                    tried = true;
                    if !self.pause(work, &mut backoff).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Waits out `backoff` (then doubles it), applying the age bound; false when `work` was
    /// dropped meanwhile.
    async fn pause(&self, work: &Work, backoff: &mut Duration) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        let dropped = self.shared.lock().enforce(Instant::now());
        report_drops(&self.stream_id, &dropped);
        tokio::select! {
            () = sleep(wait) => !work.dropped.is_cancelled(),
            () = work.dropped.cancelled() => false,
        }
    }
}

/// How long a playlist shows a segment listed on time: the window's duration.
fn keep_ms(config: &OriginConfig) -> i64 {
    let window = u32::try_from(config.hls.window).unwrap_or(u32::MAX);
    i64::try_from((config.hls.target_duration * window).as_millis()).unwrap_or(i64::MAX)
}

/// Counts and logs segments dropped from a stream's queue.
fn report_drops(stream_id: &StreamId, dropped: &[Dropped]) {
    for drop in dropped {
        metrics::segment_dropped(drop.reason.as_str());
        tracing::error!(
            stream_id = stream_id.as_str(),
            seq = drop.seq,
            reason = drop.reason.as_str(),
            "segment dropped from the upload buffer"
        );
    }
}
