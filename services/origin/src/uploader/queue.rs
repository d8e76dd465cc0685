//! One stream's finished segments, in order, waiting to be stored and listed; bounded by
//! bytes per stream (its TS segments and CMAF objects together: [`StreamBytes`]), bytes per
//! process (a shared [`BufferBudget`]) and age.
//!
//! Past a bound the oldest *droppable* segment goes: every waiting one, and the one being
//! stored, but not the one whose index write is under way (it may be listed already, so its
//! object must stay and its msn is taken). The segment after a dropped one is marked so that
//! the playlist gets a discontinuity there.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::budget::BufferBudget;

/// Bounds of one stream's queue.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes the stream may hold.
    pub bytes_per_stream: u64,
    /// Longest a segment may wait.
    pub max_age: Duration,
}

/// Bytes one stream holds in both its upload queues (TS segments and CMAF objects); each
/// queue checks the sum against [`Limits::bytes_per_stream`] and drops its own oldest.
#[derive(Debug, Clone, Default)]
pub struct StreamBytes(Arc<AtomicU64>);

impl StreamBytes {
    /// Bytes held now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(super) fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(super) fn sub(&self, bytes: u64) {
        // Every subtraction follows the addition of the same bytes, so this cannot wrap.
        self.0.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Why a segment left the queue without being listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The stream's byte bound.
    StreamBudget,
    /// The process's byte bound.
    ProcessBudget,
    /// It waited longer than the age bound.
    MaxAge,
    /// The object store refused its name (it exists and is not ours).
    StoreRefused,
    /// A newer session owns the stream: nothing more may be listed.
    Fenced,
}

impl DropReason {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StreamBudget => "stream_budget",
            Self::ProcessBudget => "process_budget",
            Self::MaxAge => "max_age",
            Self::StoreRefused => "store_refused",
            Self::Fenced => "fenced",
        }
    }
}

/// A segment dropped from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Its object sequence number (burnt).
    pub seq: u64,
    /// Why.
    pub reason: DropReason,
}

/// A finished segment as the packager produced it.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The session's segment counter, which names the object.
    pub seq: u64,
    /// The MPEG-TS bytes.
    pub data: Bytes,
    /// Media duration.
    pub duration_ms: u64,
    /// Wall-clock time of its first frame, Unix ms.
    pub program_date_time_ms: i64,
}

/// The head segment, handed to the uploader.
#[derive(Debug, Clone)]
pub struct Work {
    /// The segment.
    pub segment: Finished,
    /// Segments before it were dropped: it starts a discontinuity.
    pub gap_before: bool,
    /// Cancelled when the segment is dropped while the uploader stores it.
    pub dropped: CancellationToken,
}

struct Entry {
    work: Work,
    finished_at: Instant,
    /// Its index write has started: it may be listed, so it is never dropped.
    listing: bool,
}

/// The ordered queue of one stream.
pub struct SegmentQueue {
    id: u64,
    limits: Limits,
    budget: Arc<BufferBudget>,
    stream: StreamBytes,
    entries: VecDeque<Entry>,
    bytes: u64,
    /// The last segment was dropped: the next one pushed starts a discontinuity.
    gap_pending: bool,
    fenced: bool,
}

impl SegmentQueue {
    /// An empty queue charging `budget` and `stream`.
    pub fn new(limits: Limits, budget: Arc<BufferBudget>, stream: StreamBytes) -> Self {
        Self {
            id: budget.register_queue(),
            limits,
            budget,
            stream,
            entries: VecDeque::new(),
            bytes: 0,
            gap_pending: false,
            fenced: false,
        }
    }

    /// Adds a finished segment at the back, then applies the bounds; returns what they dropped
    /// (possibly this segment).
    pub fn push(&mut self, segment: Finished, now: Instant) -> Vec<Dropped> {
        if self.fenced {
            return vec![Dropped {
                seq: segment.seq,
                reason: DropReason::Fenced,
            }];
        }
        let size = segment.data.len() as u64;
        let work = Work {
            segment,
            gap_before: std::mem::take(&mut self.gap_pending),
            dropped: CancellationToken::new(),
        };
        self.entries.push_back(Entry {
            work,
            finished_at: now,
            listing: false,
        });
        self.bytes += size;
        self.stream.add(size);
        self.budget.charge(size);
        let dropped = self.enforce(now);
        self.publish_oldest();
        dropped
    }

    /// Drops the oldest droppable segments while a bound is exceeded.
    pub fn enforce(&mut self, now: Instant) -> Vec<Dropped> {
        let mut dropped = Vec::new();
        while let Some(index) = self.entries.iter().position(|entry| !entry.listing) {
            let age = now.saturating_duration_since(self.entries[index].finished_at);
            let reason = if self.stream.get() > self.limits.bytes_per_stream {
                DropReason::StreamBudget
            } else if self.budget.is_over() {
                DropReason::ProcessBudget
            } else if age > self.limits.max_age {
                DropReason::MaxAge
            } else {
                break;
            };
            dropped.push(self.remove(index, reason));
        }
        if !dropped.is_empty() {
            self.publish_oldest();
        }
        dropped
    }

    /// The segment the uploader works on next, if any.
    pub fn head(&self) -> Option<Work> {
        self.entries.front().map(|entry| entry.work.clone())
    }

    /// The uploader is about to list the head `seq`: from now on it is never dropped. False
    /// when that segment was dropped meanwhile.
    pub fn begin_listing(&mut self, seq: u64) -> bool {
        match self.entries.front_mut() {
            Some(entry) if entry.work.segment.seq == seq => {
                entry.listing = true;
                true
            }
            _ => false,
        }
    }

    /// The head `seq` is listed: it leaves the queue.
    pub fn listed(&mut self, seq: u64) {
        let is_head = self
            .entries
            .front()
            .is_some_and(|entry| entry.work.segment.seq == seq);
        debug_assert!(is_head, "only the head is listed");
        if is_head && let Some(entry) = self.entries.pop_front() {
            self.release(&entry);
        }
        self.publish_oldest();
    }

    /// Drops the segment `seq`, if still queued.
    pub fn drop_segment(&mut self, seq: u64, reason: DropReason) -> Option<Dropped> {
        let index = self
            .entries
            .iter()
            .position(|entry| entry.work.segment.seq == seq)?;
        let dropped = self.remove(index, reason);
        self.publish_oldest();
        Some(dropped)
    }

    /// A newer session owns the stream: drops everything, now and later.
    pub fn fence(&mut self) -> Vec<Dropped> {
        self.fenced = true;
        let mut dropped = Vec::new();
        while !self.entries.is_empty() {
            dropped.push(self.remove(0, DropReason::Fenced));
        }
        self.publish_oldest();
        dropped
    }

    /// Whether nothing waits.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held by this stream.
    #[cfg(test)]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn remove(&mut self, index: usize, reason: DropReason) -> Dropped {
        let entry = self
            .entries
            .remove(index)
            .expect("index comes from a search of the same queue");
        entry.work.dropped.cancel();
        self.release(&entry);
        match self.entries.get_mut(index) {
            Some(next) => next.work.gap_before = true,
            None => self.gap_pending = true,
        }
        Dropped {
            seq: entry.work.segment.seq,
            reason,
        }
    }

    fn release(&mut self, entry: &Entry) {
        let size = entry.work.segment.data.len() as u64;
        self.bytes -= size;
        self.stream.sub(size);
        self.budget.refund(size);
    }

    fn publish_oldest(&self) {
        let oldest = self.entries.front().map(|entry| entry.finished_at);
        self.budget.set_oldest(self.id, oldest);
    }
}

impl Drop for SegmentQueue {
    fn drop(&mut self) {
        self.budget.refund(self.bytes);
        self.stream.sub(self.bytes);
        self.budget.set_oldest(self.id, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn segment(seq: u64, bytes: usize) -> Finished {
        Finished {
            seq,
            data: Bytes::from(vec![0; bytes]),
            duration_ms: 2_000,
            program_date_time_ms: 0,
        }
    }

    fn queue(bytes_per_stream: u64, budget: &Arc<BufferBudget>) -> SegmentQueue {
        let limits = Limits {
            bytes_per_stream,
            max_age: 300 * SECOND,
        };
        SegmentQueue::new(limits, budget.clone(), StreamBytes::default())
    }

    fn seqs(queue: &SegmentQueue) -> Vec<(u64, bool)> {
        let entries = queue.entries.iter();
        entries
            .map(|entry| (entry.work.segment.seq, entry.work.gap_before))
            .collect()
    }

    #[test]
    fn the_stream_bound_drops_the_oldest_and_marks_the_next() {
        let budget = Arc::new(BufferBudget::new(u64::MAX));
        let mut queue = queue(300, &budget);
        let now = Instant::now();
        for seq in 0..3 {
            assert!(queue.push(segment(seq, 100), now).is_empty());
        }
        let head = queue.head().unwrap();
        let dropped = queue.push(segment(3, 100), now);
        assert_eq!(
            dropped,
            vec![Dropped {
                seq: 0,
                reason: DropReason::StreamBudget
            }]
        );
        assert!(head.dropped.is_cancelled(), "the uploader stops storing it");
        assert_eq!(seqs(&queue), vec![(1, true), (2, false), (3, false)]);
        assert_eq!((queue.bytes(), budget.held_bytes()), (300, 300));
    }

    #[test]
    fn a_segment_being_listed_is_never_dropped() {
        let budget = Arc::new(BufferBudget::new(u64::MAX));
        let mut queue = queue(250, &budget);
        let now = Instant::now();
        queue.push(segment(0, 100), now);
        assert!(queue.begin_listing(0));
        queue.push(segment(1, 100), now);
        let dropped = queue.push(segment(2, 100), now);
        assert_eq!(dropped[0].seq, 1);
        assert_eq!(seqs(&queue), vec![(0, false), (2, true)]);
        queue.listed(0);
        assert_eq!(seqs(&queue), vec![(2, true)]);
        assert_eq!(budget.held_bytes(), 100);
    }

    #[test]
    fn the_process_budget_is_shared_and_the_pushing_stream_pays() {
        let budget = Arc::new(BufferBudget::new(350));
        let (mut a, mut b) = (queue(1_000, &budget), queue(1_000, &budget));
        let now = Instant::now();
        a.push(segment(0, 100), now);
        a.push(segment(1, 100), now);
        b.push(segment(0, 100), now);
        let dropped = b.push(segment(1, 100), now);
        assert_eq!(
            dropped,
            vec![Dropped {
                seq: 0,
                reason: DropReason::ProcessBudget
            }]
        );
        assert_eq!((a.bytes(), b.bytes(), budget.held_bytes()), (200, 100, 300));
        drop(a);
        assert_eq!(budget.held_bytes(), 100);
    }

    #[test]
    fn old_segments_age_out_and_a_trailing_drop_marks_the_next_push() {
        let budget = Arc::new(BufferBudget::new(u64::MAX));
        let mut queue = queue(1_000, &budget);
        let start = Instant::now();
        queue.push(segment(0, 10), start);
        queue.push(segment(1, 10), start + 2 * SECOND);
        assert!(queue.enforce(start + 300 * SECOND).is_empty());
        let dropped = queue.enforce(start + 303 * SECOND);
        let reasons: Vec<_> = dropped.iter().map(|d| (d.seq, d.reason)).collect();
        assert_eq!(
            reasons,
            vec![(0, DropReason::MaxAge), (1, DropReason::MaxAge)]
        );
        assert!(queue.is_empty());
        queue.push(segment(2, 10), start + 304 * SECOND);
        assert_eq!(seqs(&queue), vec![(2, true)]);
    }

    #[test]
    fn a_fenced_queue_drops_everything_now_and_later() {
        let budget = Arc::new(BufferBudget::new(u64::MAX));
        let mut queue = queue(1_000, &budget);
        let now = Instant::now();
        queue.push(segment(0, 10), now);
        assert_eq!(queue.fence().len(), 1);
        let later = queue.push(segment(1, 10), now);
        assert_eq!(later[0].reason, DropReason::Fenced);
        assert!(queue.is_empty());
        assert_eq!(budget.held_bytes(), 0);
    }
}
