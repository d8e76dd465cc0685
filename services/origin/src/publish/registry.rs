//! The publishes live on this origin, for heartbeats (lease renewal), load reports and
//! metrics; a newer session of a stream takes over (cancels) an older one here. It also hands
//! out each stream's [`LogWriter`]: which session may write the stream's part log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ferrocast_base::{Epoch, StreamId, lock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// One live publish as reported to control and to metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// The stream.
    pub stream_id: StreamId,
    /// Its lease epoch.
    pub epoch: Epoch,
    /// Media bytes received since the publish started.
    pub bytes_in: u64,
    /// When its newest segment was indexed (when it started, before the first).
    pub newest_segment_at: Instant,
    /// Time since its last audio or video frame (since it started, before the first).
    pub media_age: Duration,
}

/// What a running publish updates about itself.
#[derive(Debug)]
pub struct PublishStats {
    bytes_in: AtomicU64,
    newest_segment_at: Mutex<Instant>,
    started: tokio::time::Instant,
    /// Milliseconds from `started` to the last media frame: one relaxed store per frame.
    media_at_ms: AtomicU64,
    taken_over: CancellationToken,
}

impl PublishStats {
    fn new() -> Self {
        Self {
            bytes_in: AtomicU64::new(0),
            newest_segment_at: Mutex::new(Instant::now()),
            started: tokio::time::Instant::now(),
            media_at_ms: AtomicU64::new(0),
            taken_over: CancellationToken::new(),
        }
    }

    /// Records that an audio or video frame just arrived.
    pub fn media_received(&self) {
        let since_start = self.started.elapsed().as_millis() as u64;
        self.media_at_ms.store(since_start, Ordering::Relaxed);
    }

    /// Time since the last audio or video frame.
    pub fn media_age(&self) -> Duration {
        let media_at = Duration::from_millis(self.media_at_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(media_at)
    }

    /// Cancelled when a newer session owns the stream (it started on this origin, or this
    /// one's index writes were fenced): the connection of this one ends.
    pub fn taken_over(&self) -> &CancellationToken {
        &self.taken_over
    }

    /// Counts received media bytes.
    pub fn add_bytes(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Records that a segment was just indexed.
    pub fn segment_indexed(&self) {
        *lock(&self.newest_segment_at) = Instant::now();
    }
}

/// The epoch of the session that may write a stream's part log (`None` before the first).
/// Every session and every ending of one stream on this origin holds the same one: a session
/// checks it and applies an event under its lock, so an older session that is still winding
/// down never writes into a newer session's log (part events carry no epoch).
pub(crate) type LogWriter = Arc<Mutex<Option<Epoch>>>;

/// Registry of the publishes running on this origin.
#[derive(Default)]
pub struct Publishing {
    live: Mutex<HashMap<StreamId, (Epoch, Arc<PublishStats>)>>,
    /// Held by the sessions and endings of each stream; an entry goes with its last holder.
    log_writers: Mutex<HashMap<StreamId, Weak<Mutex<Option<Epoch>>>>>,
    endings: TaskTracker,
}

impl Publishing {
    /// Registers a publish; the returned stats are fed by the publish session. An older
    /// session of the stream is taken over (its token cancelled); a session older than the
    /// registered one is taken over at once.
    pub fn add(&self, stream_id: &StreamId, epoch: Epoch) -> Arc<PublishStats> {
        let stats = Arc::new(PublishStats::new());
        let mut live = lock(&self.live);
        if let Some((current, older)) = live.get(stream_id) {
            if *current > epoch {
                stats.taken_over.cancel();
                return stats;
            }
            older.taken_over.cancel();
        }
        live.insert(stream_id.clone(), (epoch, stats.clone()));
        stats
    }

    /// The stream's part-log writer, shared with every other session and ending of the stream
    /// that still holds it.
    pub(crate) fn log_writer(&self, stream_id: &StreamId) -> LogWriter {
        let mut writers = lock(&self.log_writers);
        if let Some(writer) = writers.get(stream_id).and_then(Weak::upgrade) {
            return writer;
        }
        // Bounded by the streams with a session or an ending here.
        writers.retain(|_, writer| writer.strong_count() > 0);
        let writer = LogWriter::default();
        writers.insert(stream_id.clone(), Arc::downgrade(&writer));
        writer
    }

    /// The tasks that finish ended publishes (upload drain, lease release, reconnect window);
    /// the origin's drain waits for them.
    pub fn endings(&self) -> &TaskTracker {
        &self.endings
    }

    /// Unregisters a publish, unless a newer epoch replaced it.
    pub fn remove(&self, stream_id: &StreamId, epoch: Epoch) {
        let mut live = lock(&self.live);
        if live
            .get(stream_id)
            .is_some_and(|(current, _)| *current == epoch)
        {
            live.remove(stream_id);
        }
    }

    /// How many publishes run here.
    pub fn len(&self) -> usize {
        lock(&self.live).len()
    }

    /// True when nothing is published here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every live publish, sorted by stream id.
    pub fn reports(&self) -> Vec<PublishReport> {
        let live = lock(&self.live);
        let mut reports: Vec<PublishReport> = live
            .iter()
            .map(|(stream_id, (epoch, stats))| PublishReport {
                stream_id: stream_id.clone(),
                epoch: *epoch,
                bytes_in: stats.bytes_in.load(Ordering::Relaxed),
                newest_segment_at: *lock(&stats.newest_segment_at),
                media_age: stats.media_age(),
            })
            .collect();
        reports.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
        reports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_epoch_survives_the_old_sessions_removal() {
        let publishing = Publishing::default();
        let s = &StreamId::new("s");
        publishing.add(s, Epoch(1)).add_bytes(10);
        publishing.add(s, Epoch(2));
        publishing.remove(s, Epoch(1));
        let reports = publishing.reports();
        assert_eq!(reports.len(), 1);
        assert_eq!((reports[0].epoch, reports[0].bytes_in), (Epoch(2), 0));
        publishing.remove(s, Epoch(2));
        assert!(publishing.reports().is_empty());
    }

    #[test]
    fn a_newer_epoch_takes_the_older_session_over() {
        let publishing = Publishing::default();
        let s = &StreamId::new("s");
        let first = publishing.add(s, Epoch(1));
        let second = publishing.add(s, Epoch(2));
        assert!(first.taken_over().is_cancelled());
        assert!(!second.taken_over().is_cancelled());
        let stale = publishing.add(s, Epoch(1));
        assert!(stale.taken_over().is_cancelled() && !second.taken_over().is_cancelled());
        assert_eq!(publishing.reports()[0].epoch, Epoch(2));
    }

    #[test]
    fn sessions_of_a_stream_share_its_log_writer_while_one_holds_it() {
        let publishing = Publishing::default();
        let (s, t) = (&StreamId::new("s"), &StreamId::new("t"));
        let first = publishing.log_writer(s);
        *lock(&first) = Some(Epoch(1));
        let second = publishing.log_writer(s);
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(&first, &publishing.log_writer(t)));
        drop((first, second));
        assert_eq!(*lock(&publishing.log_writer(s)), None, "a fresh one");
        assert_eq!(
            lock(&publishing.log_writers).len(),
            1,
            "dead entries pruned"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn media_age_is_the_time_since_the_last_frame() {
        let publishing = Publishing::default();
        let stats = publishing.add(&StreamId::new("s"), Epoch(1));
        tokio::time::advance(Duration::from_millis(700)).await;
        stats.media_received();
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(stats.media_age(), Duration::from_millis(300));
        assert_eq!(
            publishing.reports()[0].media_age,
            Duration::from_millis(300)
        );
    }
}
