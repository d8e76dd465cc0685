//! The publishes live on this origin, for heartbeats (lease renewal) and load reports.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One live publish as reported to control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// The stream.
    pub stream_id: String,
    /// Its lease epoch.
    pub epoch: u64,
    /// Media bytes received since the publish started.
    pub bytes_in: u64,
}

/// Registry of the publishes running on this origin.
#[derive(Default)]
pub struct Publishing {
    live: Mutex<HashMap<String, (u64, Arc<AtomicU64>)>>,
}

impl Publishing {
    /// Registers a publish; the returned counter is fed with received media bytes.
    pub fn add(&self, stream_id: &str, epoch: u64) -> Arc<AtomicU64> {
        let counter = Arc::new(AtomicU64::new(0));
        self.lock()
            .insert(stream_id.to_owned(), (epoch, counter.clone()));
        counter
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

    /// A snapshot of every live publish.
    pub fn reports(&self) -> Vec<PublishReport> {
        let live = self.lock();
        let mut reports: Vec<PublishReport> = live
            .iter()
            .map(|(stream_id, (epoch, bytes))| PublishReport {
                stream_id: stream_id.clone(),
                epoch: *epoch,
                bytes_in: bytes.load(Ordering::Relaxed),
            })
            .collect();
        reports.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
        reports
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Arc<AtomicU64>)>> {
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
        publishing.add("s", 1).fetch_add(10, Ordering::Relaxed);
        publishing.add("s", 2);
        publishing.remove("s", 1);
        assert_eq!(
            publishing.reports(),
            vec![PublishReport {
                stream_id: "s".into(),
                epoch: 2,
                bytes_in: 0
            }]
        );
        publishing.remove("s", 2);
        assert!(publishing.reports().is_empty());
    }
}
