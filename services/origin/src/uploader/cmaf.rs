//! The CMAF objects of a session (ADR 16): each track's finished segment and each new init
//! segment, stored beside the MPEG-TS segments under `keys::cmaf_segment`/`keys::cmaf_init`.
//!
//! They have a lane of their own in the uploader, so that a CMAF object that cannot be stored
//! never holds up the TS segments' PUTs and listings: the TS path stays as it was. The lane
//! keeps the uploader's rules: a bounded queue (the stream's byte bound, its age bound and the
//! process's [`BufferBudget`], oldest dropped first and counted), PUTs retried with capped
//! backoff until stored, dropped, or the session is fenced out. Nothing lists CMAF objects: an
//! edge names them from the TS listing's `(epoch, seq)` and its part log, so a missing one is
//! a 404 for a player far behind live, never a wrong playlist. A recording's CMAF playlists
//! do name them, so the lane notes what it stored in a [`Ledger`], and the TS listing of a
//! recorded session waits a moment for its segment's objects to settle ([`CmafShared::settle`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::{CmafTracks, SegmentStore, SessionObject, StoreError};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep, timeout_at};

use super::budget::BufferBudget;
use super::ledger::Ledger;
use super::queue::{Limits, StreamBytes};
use super::{FIRST_BACKOFF, MAX_BACKOFF};
use crate::metrics;

/// One object to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmafObject {
    /// Which object of the session.
    pub object: SessionObject,
    /// Its bytes.
    pub data: Bytes,
}

impl CmafObject {
    /// The metric label of its kind.
    fn kind(&self) -> &'static str {
        match self.object {
            SessionObject::CmafInit { .. } => "init",
            _ => "segment",
        }
    }
}

struct Waiting {
    id: u64,
    object: CmafObject,
    /// A segment's: the version of its track's newest init segment when it was queued, the
    /// one it needs (`None`: its track had none).
    init_version: Option<u32>,
    /// The first segment that may need it: a segment's own seq; for an init segment, the
    /// segment after the newest one queued (inits come before the segments using them).
    for_seq: u64,
    queued_at: Instant,
}

/// The waiting objects of one stream, oldest first.
pub(super) struct CmafQueue {
    id: u64,
    limits: Limits,
    budget: Arc<BufferBudget>,
    stream: StreamBytes,
    waiting: VecDeque<Waiting>,
    next_id: u64,
    bytes: u64,
    fenced: bool,
    /// Each track's newest init version queued.
    newest_init: CmafTracks,
    /// One past the newest segment queued.
    next_seq: u64,
    ledger: Ledger,
}

impl CmafQueue {
    pub(super) fn new(limits: Limits, budget: Arc<BufferBudget>, stream: StreamBytes) -> Self {
        Self {
            id: budget.register_queue(),
            limits,
            budget,
            stream,
            waiting: VecDeque::new(),
            next_id: 0,
            bytes: 0,
            fenced: false,
            newest_init: CmafTracks::default(),
            next_seq: 0,
            ledger: Ledger::default(),
        }
    }

    /// Queues `objects`, then drops the oldest while a bound is exceeded; returns how many
    /// were dropped.
    pub(super) fn push(&mut self, objects: Vec<CmafObject>, now: Instant) -> usize {
        if self.fenced {
            return objects.len();
        }
        for object in objects {
            let size = object.data.len() as u64;
            self.bytes += size;
            self.stream.add(size);
            self.budget.charge(size);
            let (init_version, for_seq) = match object.object {
                SessionObject::CmafInit { version, track } => {
                    self.newest_init.set(track, Some(version));
                    (None, self.next_seq)
                }
                SessionObject::CmafSegment { seq, track } => {
                    self.next_seq = self.next_seq.max(seq.saturating_add(1));
                    (self.newest_init.get(track), seq)
                }
                SessionObject::Ts { seq } => (None, seq),
            };
            self.waiting.push_back(Waiting {
                id: self.next_id,
                object,
                init_version,
                for_seq,
                queued_at: now,
            });
            self.next_id += 1;
        }
        let dropped = self.enforce(now);
        self.publish_oldest();
        dropped
    }

    /// Drops the oldest objects while a bound is exceeded; returns how many.
    pub(super) fn enforce(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        while let Some(oldest) = self.waiting.front() {
            let age = now.saturating_duration_since(oldest.queued_at);
            let over = self.stream.get() > self.limits.bytes_per_stream
                || self.budget.is_over()
                || age > self.limits.max_age;
            if !over {
                break;
            }
            self.pop();
            dropped += 1;
        }
        if dropped > 0 {
            self.publish_oldest();
        }
        dropped
    }

    /// The oldest waiting object and its id.
    pub(super) fn head(&self) -> Option<(u64, CmafObject)> {
        let head = self.waiting.front()?;
        Some((head.id, head.object.clone()))
    }

    /// Whether object `id` still waits (a bound may have dropped it meanwhile).
    pub(super) fn holds(&self, id: u64) -> bool {
        self.waiting.front().is_some_and(|head| head.id == id)
    }

    /// Object `id` is done with (`stored`, or refused for good): it leaves the queue.
    pub(super) fn done(&mut self, id: u64, stored: bool) {
        if !self.holds(id) {
            return;
        }
        if stored && let Some(head) = self.waiting.front() {
            match (head.object.object, head.init_version) {
                (SessionObject::CmafInit { version, track }, _) => {
                    self.ledger.init_stored(track, version);
                }
                (SessionObject::CmafSegment { seq, track }, Some(init)) => {
                    self.ledger.segment_stored(seq, track, init);
                }
                _ => {}
            }
        }
        self.pop();
        self.publish_oldest();
    }

    /// Whether an object that segment `seq`'s CMAF objects may need still waits: one of its
    /// own, an older segment's, or an init segment queued before them.
    pub(super) fn unsettled(&self, seq: u64) -> bool {
        self.waiting.iter().any(|waiting| waiting.for_seq <= seq)
    }

    /// What was stored of segment `seq` (see [`Ledger::take`]).
    pub(super) fn take_stored(&mut self, seq: u64) -> CmafTracks {
        self.ledger.take(seq)
    }

    /// The session is fenced out: drops everything, now and later; returns how many.
    pub(super) fn fence(&mut self) -> usize {
        self.fenced = true;
        let dropped = self.waiting.len();
        while !self.waiting.is_empty() {
            self.pop();
        }
        self.publish_oldest();
        dropped
    }

    #[cfg(test)]
    fn ids(&self) -> Vec<u64> {
        self.waiting.iter().map(|waiting| waiting.id).collect()
    }

    fn pop(&mut self) {
        if let Some(waiting) = self.waiting.pop_front() {
            let size = waiting.object.data.len() as u64;
            self.bytes -= size;
            self.stream.sub(size);
            self.budget.refund(size);
        }
    }

    fn publish_oldest(&self) {
        let oldest = self.waiting.front().map(|waiting| waiting.queued_at);
        self.budget.set_oldest(self.id, oldest);
    }
}

impl Drop for CmafQueue {
    fn drop(&mut self) {
        self.budget.refund(self.bytes);
        self.stream.sub(self.bytes);
        self.budget.set_oldest(self.id, None);
    }
}

/// The queue shared by the session's [`super::Uploads`] and the lane.
pub(super) struct CmafShared {
    queue: Mutex<CmafQueue>,
    wake: Notify,
    /// Woken whenever objects leave the queue (stored or dropped), for [`CmafShared::settle`].
    changed: Notify,
    closed: AtomicBool,
}

impl CmafShared {
    pub(super) fn new(queue: CmafQueue) -> Self {
        Self {
            queue: Mutex::new(queue),
            wake: Notify::new(),
            changed: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, CmafQueue> {
        ferrocast_base::lock(&self.queue)
    }

    /// Queues objects; never waits.
    pub(super) fn push(&self, objects: Vec<CmafObject>) {
        let dropped = self.lock().push(objects, Instant::now());
        self.dropped(dropped);
        self.wake.notify_one();
    }

    /// Waits until segment `seq`'s CMAF objects are stored or dropped, or until `deadline`;
    /// false when the deadline came first.
    pub(super) async fn settle(&self, seq: u64, deadline: Instant) -> bool {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change right after it is not missed.
            changed.as_mut().enable();
            if !self.lock().unsettled(seq) {
                return true;
            }
            if timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    fn dropped(&self, count: usize) {
        metrics::cmaf_objects_dropped(count);
        if count > 0 {
            self.changed.notify_waiters();
        }
    }

    /// No more objects: the lane ends once the queue is drained.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// The session is fenced out: nothing more is stored.
    pub(super) fn fence(&self) {
        let dropped = self.lock().fence();
        self.dropped(dropped);
        self.close();
    }
}

/// Stores one session's CMAF objects, in order, until its queue is closed and drained.
pub(super) struct CmafLane {
    pub(super) stream_id: StreamId,
    pub(super) epoch: Epoch,
    pub(super) store: SegmentStore,
    pub(super) shared: Arc<CmafShared>,
}

impl CmafLane {
    pub(super) async fn run(self) {
        while let Some((id, object)) = self.next().await {
            let stored = self.store_object(id, &object).await;
            self.shared.lock().done(id, stored);
            self.shared.changed.notify_waiters();
        }
    }

    async fn next(&self) -> Option<(u64, CmafObject)> {
        loop {
            if let Some(head) = self.shared.lock().head() {
                return Some(head);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return None;
            }
            self.shared.wake.notified().await;
        }
    }

    /// PUTs the object until the store acknowledges it (true), a bound drops it, or the store
    /// refuses its name for good.
    async fn store_object(&self, id: u64, object: &CmafObject) -> bool {
        let mut backoff = FIRST_BACKOFF;
        let mut tried = false;
        loop {
            let started = Instant::now();
            let put = self
                .store
                .put_object(
                    &self.stream_id,
                    self.epoch,
                    object.object,
                    object.data.clone(),
                )
                .await;
            match put {
                Ok(()) => {
                    metrics::cmaf_object_stored(
                        object.kind(),
                        started.elapsed(),
                        object.data.len(),
                    );
                    return true;
                }
                // An earlier try of ours landed after its deadline.
                Err(StoreError::AlreadyExists) if tried => return true,
                Err(StoreError::AlreadyExists) => {
                    tracing::error!(stream_id = %self.stream_id, object = ?object.object, "cmaf object dropped: its name is taken");
                    metrics::cmaf_objects_dropped(1);
                    return false;
                }
                Err(error) => {
                    metrics::cmaf_object_failed(object.kind());
                    tracing::warn!(stream_id = %self.stream_id, object = ?object.object, %error, retry_in = ?backoff, "cmaf object put failed; retrying");
                    tried = true;
                    if !self.pause(id, &mut backoff).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Waits out `backoff` (then doubles it), applying the bounds; false when object `id` was
    /// dropped meanwhile.
    async fn pause(&self, id: u64, backoff: &mut Duration) -> bool {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        let dropped = self.shared.lock().enforce(Instant::now());
        self.shared.dropped(dropped);
        sleep(wait).await;
        self.shared.lock().holds(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_media::cmaf::TrackKind;

    fn object(seq: u64, bytes: usize) -> CmafObject {
        CmafObject {
            object: SessionObject::CmafSegment {
                seq,
                track: TrackKind::Video,
            },
            data: Bytes::from(vec![0; bytes]),
        }
    }

    fn queue(bytes_per_stream: u64, budget: &Arc<BufferBudget>) -> CmafQueue {
        let limits = Limits {
            bytes_per_stream,
            max_age: Duration::from_secs(300),
        };
        CmafQueue::new(limits, budget.clone(), StreamBytes::default())
    }

    #[test]
    fn bounds_drop_the_oldest_and_refund_the_budget() {
        let budget = Arc::new(BufferBudget::new(u64::MAX));
        let mut queue = queue(250, &budget);
        let now = Instant::now();
        assert_eq!(queue.push(vec![object(0, 100), object(0, 100)], now), 0);
        assert_eq!(queue.push(vec![object(1, 100)], now), 1);
        assert_eq!(queue.ids(), vec![1, 2]);
        assert_eq!(budget.held_bytes(), 200);
        assert!(!queue.holds(0), "the dropped head is no longer held");
        let (id, _) = queue.head().unwrap();
        queue.done(id, true);
        assert_eq!(queue.ids(), vec![2]);
        let aged = queue.enforce(now + Duration::from_secs(301));
        assert_eq!((aged, budget.held_bytes()), (1, 0));
    }

    #[test]
    fn the_stream_bound_covers_both_queues() {
        let budget = Arc::new(BufferBudget::new(u64::MAX));
        let stream = StreamBytes::default();
        let limits = Limits {
            bytes_per_stream: 250,
            max_age: Duration::from_secs(300),
        };
        let mut ts = super::super::queue::SegmentQueue::new(limits, budget.clone(), stream.clone());
        let mut cmaf = CmafQueue::new(limits, budget.clone(), stream.clone());
        let now = Instant::now();
        let segment = super::super::Finished {
            seq: 0,
            data: Bytes::from(vec![0; 200]),
            duration_ms: 2_000,
            program_date_time_ms: 0,
        };
        assert!(ts.push(segment, now).is_empty());
        assert_eq!(
            cmaf.push(vec![object(0, 100)], now),
            1,
            "over the stream's bound"
        );
        assert_eq!(stream.get(), 200);
        drop(ts);
        assert_eq!((stream.get(), budget.held_bytes()), (0, 0));
    }

    fn init(version: u32, track: TrackKind) -> CmafObject {
        CmafObject {
            object: SessionObject::CmafInit { version, track },
            data: Bytes::from_static(b"init"),
        }
    }

    fn store_head(queue: &mut CmafQueue, stored: bool) {
        let (id, _) = queue.head().unwrap();
        queue.done(id, stored);
    }

    #[test]
    fn a_segment_is_recorded_with_the_init_queued_before_it_once_both_are_stored() {
        let budget = Arc::new(BufferBudget::new(u64::MAX));
        let mut queue = queue(1_000, &budget);
        let now = Instant::now();
        let audio = |seq| CmafObject {
            object: SessionObject::CmafSegment {
                seq,
                track: TrackKind::Audio,
            },
            data: Bytes::from_static(b"aac"),
        };
        queue.push(
            vec![init(0, TrackKind::Video), object(0, 10), audio(0)],
            now,
        );
        queue.push(vec![init(1, TrackKind::Video), object(1, 10)], now);
        assert!(queue.unsettled(0));
        store_head(&mut queue, true);
        store_head(&mut queue, true);
        assert!(queue.unsettled(0), "segment 0's audio still waits");
        store_head(&mut queue, true);
        assert!(!queue.unsettled(0));
        assert!(queue.unsettled(1));
        // Video init 1 is refused: segment 1's video object is useless without it.
        store_head(&mut queue, false);
        store_head(&mut queue, true);
        assert!(!queue.unsettled(1));
        let first = queue.take_stored(0);
        assert_eq!(
            (first.video, first.audio),
            (Some(0), None),
            "audio had no init"
        );
        assert_eq!(queue.take_stored(1), CmafTracks::default());
    }

    #[test]
    fn a_fenced_queue_takes_nothing() {
        let budget = Arc::new(BufferBudget::new(u64::MAX));
        let mut queue = queue(1_000, &budget);
        let now = Instant::now();
        queue.push(vec![object(0, 10)], now);
        assert_eq!(queue.fence(), 1);
        assert_eq!(queue.push(vec![object(1, 10)], now), 1);
        assert!(queue.head().is_none());
        assert_eq!(budget.held_bytes(), 0);
    }

    #[test]
    fn the_process_budget_drops_too() {
        let budget = Arc::new(BufferBudget::new(150));
        let mut queue = queue(1_000, &budget);
        let dropped = queue.push(vec![object(0, 100), object(1, 100)], Instant::now());
        assert_eq!((dropped, queue.ids()), (1, vec![1]));
    }
}
