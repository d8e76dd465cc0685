//! The publishes live on this origin, for heartbeats (lease renewal), load reports and
//! metrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One live publish as reported to control and to metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// The stream.
    pub stream_id: String,
    /// Its lease epoch.
    pub epoch: u64,
    /// Media bytes received since the publish started.
    pub bytes_in: u64,
    /// When its newest segment was indexed (when it started, before the first).
    pub newest_segment_at: Instant,
}

/// What a running publish updates about itself.
#[derive(Debug)]
pub struct PublishStats {
    bytes_in: AtomicU64,
    newest_segment_at: Mutex<Instant>,
}

impl PublishStats {
    fn new() -> Self {
        Self {
            bytes_in: AtomicU64::new(0),
            newest_segment_at: Mutex::new(Instant::now()),
        }
    }

    /// Counts received media bytes.
    pub fn add_bytes(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Records that a segment was just indexed.
    pub fn segment_indexed(&self) {
        *self.lock_newest() = Instant::now();
    }

    fn lock_newest(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.newest_segment_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Registry of the publishes running on this origin.
#[derive(Default)]
pub struct Publishing {
    live: Mutex<HashMap<String, (u64, Arc<PublishStats>)>>,
}

impl Publishing {
    /// Registers a publish; the returned stats are fed by the publish session.
    pub fn add(&self, stream_id: &str, epoch: u64) -> Arc<PublishStats> {
        let stats = Arc::new(PublishStats::new());
        self.lock()
            .insert(stream_id.to_owned(), (epoch, stats.clone()));
        stats
    }

    /// Unregisters a publish, unless a newer epoch replaced it.
    pub fn remove(&self, stream_id: &str, epoch: u64) {
        let mut live = self.lock();
        if live
            .get(stream_id)
            .is_some_and(|(current, _)| *current == epoch)
        {
            live.remove(stream_id);
        }
    }

    /// How many publishes run here.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is published here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every live publish, sorted by stream id.
    pub fn reports(&self) -> Vec<PublishReport> {
        let live = self.lock();
        let mut reports: Vec<PublishReport> = live
            .iter()
            .map(|(stream_id, (epoch, stats))| PublishReport {
                stream_id: stream_id.clone(),
                epoch: *epoch,
                bytes_in: stats.bytes_in.load(Ordering::Relaxed),
                newest_segment_at: *stats.lock_newest(),
            })
            .collect();
        reports.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
        reports
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Arc<PublishStats>)>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_epoch_survives_the_old_sessions_removal() {
        let publishing = Publishing::default();
        publishing.add("s", 1).add_bytes(10);
        publishing.add("s", 2);
        publishing.remove("s", 1);
        let reports = publishing.reports();
        assert_eq!(reports.len(), 1);
        assert_eq!((reports[0].epoch, reports[0].bytes_in), (2, 0));
        publishing.remove("s", 2);
        assert!(publishing.reports().is_empty());
    }
}
