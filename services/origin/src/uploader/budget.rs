//! The process-wide bound on bytes of finished segments waiting in memory, shared by every
//! stream's queue, and the figures behind the buffer gauges.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::metrics;

/// Bytes of waiting segments the whole origin may hold (`hls.buffer_bytes_total`). One per
/// process, in [`OriginDeps`](crate::OriginDeps); each stream's queue charges its segments
/// here and, when the total is over, drops its own oldest waiting segment.
#[derive(Debug)]
pub struct BufferBudget {
    limit_bytes: u64,
    held_bytes: AtomicU64,
    next_queue: AtomicU64,
    /// When each queue's oldest waiting segment was finished: one entry per non-empty queue,
    /// so as many as streams uploading here.
    oldest: Mutex<HashMap<u64, Instant>>,
}

impl BufferBudget {
    /// A budget of `limit_bytes` for the whole process.
    pub fn new(limit_bytes: u64) -> Self {
        Self {
            limit_bytes,
            held_bytes: AtomicU64::new(0),
            next_queue: AtomicU64::new(0),
            oldest: Mutex::default(),
        }
    }

    /// Bytes of segments waiting in memory now.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes.load(Ordering::Relaxed)
    }

    /// How long the oldest waiting segment of any stream has waited.
    pub fn oldest_waiting_age(&self) -> Option<Duration> {
        let now = Instant::now();
        let oldest = self.lock_oldest().values().min().copied()?;
        Some(now.saturating_duration_since(oldest))
    }

    /// Sets the buffer gauges (at scrape time).
    pub fn collect(&self) {
        metrics::buffer_held(self.held_bytes(), self.oldest_waiting_age());
    }

    pub(crate) fn register_queue(&self) -> u64 {
        self.next_queue.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn charge(&self, bytes: u64) {
        self.held_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn refund(&self, bytes: u64) {
        // Every refund follows the charge of the same segment, so this cannot wrap.
        self.held_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    pub(crate) fn is_over(&self) -> bool {
        self.held_bytes() > self.limit_bytes
    }

    pub(crate) fn set_oldest(&self, queue: u64, oldest: Option<Instant>) {
        let mut table = self.lock_oldest();
        match oldest {
            Some(at) => table.insert(queue, at),
            None => table.remove(&queue),
        };
    }

    fn lock_oldest(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Instant>> {
        ferrocast_base::lock(&self.oldest)
    }
}

impl Default for BufferBudget {
    /// The default `hls.buffer_bytes_total`.
    fn default() -> Self {
        Self::new(crate::HlsConfig::default().buffer_bytes_total)
    }
}
