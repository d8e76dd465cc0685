//! The decoder's own thread: thumbnails are decoded there, one at a time, at lowered
//! priority, never on the async runtime's threads, so a burst of thumbnail requests costs at
//! most one core and yields it to ingest and delivery whenever they need it.
//!
//! In front of it, a queue of `max_queued` jobs (one more is refused, not buffered) and a
//! token bucket of `max_decodes_per_second`; both refuse with a reason the caller answers
//! as 503.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ferrocast_base::lock;
use ferrocast_thumbnail::{Keyframe, Options, Thumbnail, ThumbnailError};

use super::cache::{Failure, Flight};
use super::metrics;

/// The name the worker thread carries, as `top -H` and `/proc/<pid>/task/*/comm` show it.
pub(crate) const THREAD_NAME: &str = "thumbs-decode";

/// What turns a keyframe into a thumbnail: [`Keyframe::render`], or a stand-in in tests.
pub(crate) type Renderer =
    Arc<dyn Fn(&Keyframe, &Options) -> Result<Thumbnail, ThumbnailError> + Send + Sync>;

/// One decode to do, and the flight waiting for it.
pub(crate) struct Job {
    pub(crate) keyframe: Keyframe,
    pub(crate) options: Options,
    pub(crate) flight: Flight,
}

/// Why a decode was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `max_queued` decodes were waiting already.
    QueueFull,
    /// `max_decodes_per_second` were started in the last second.
    Rate,
}

/// The handle on the worker thread; dropping it lets the thread finish its queue and exit.
pub(crate) struct Worker {
    queue: SyncSender<Job>,
    bucket: Mutex<TokenBucket>,
}

impl Worker {
    /// Starts the thread.
    pub(crate) fn start(
        max_queued: usize,
        max_decodes_per_second: u32,
        nice: u8,
        renderer: Renderer,
    ) -> std::io::Result<Self> {
        let (queue, jobs) = sync_channel(max_queued);
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || run(jobs, nice, renderer))?;
        Ok(Self {
            queue,
            bucket: Mutex::new(TokenBucket::new(max_decodes_per_second)),
        })
    }

    /// Queues `job`, or ends its flight as busy, with the reason, at once.
    pub(crate) fn submit(&self, job: Job) {
        let refused = if !lock(&self.bucket).take(Instant::now()) {
            (job, Refusal::Rate)
        } else {
            match self.queue.try_send(job) {
                Ok(()) => return,
                Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                    (job, Refusal::QueueFull)
                }
            }
        };
        let (job, refusal) = refused;
        metrics::refused(refusal);
        job.flight.complete_with(Err(Failure::Busy(refusal)));
    }
}

fn run(jobs: Receiver<Job>, nice: u8, renderer: Renderer) {
    lower_priority(nice);
    for job in jobs {
        let started = Instant::now();
        // A panic in the renderer fails this thumbnail only; the flight's waiters are told.
        let rendered = catch_unwind(AssertUnwindSafe(|| renderer(&job.keyframe, &job.options)));
        let elapsed = started.elapsed();
        let outcome = match rendered {
            Ok(Ok(thumbnail)) => Ok(thumbnail),
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "thumbnail decode failed");
                Err(error.into())
            }
            Err(_) => {
                tracing::error!("thumbnail decode panicked");
                Err(Failure::Failed)
            }
        };
        metrics::decoded(elapsed, outcome.is_ok());
        job.flight.complete_with(outcome);
    }
}

/// Raises this thread's nice value by `nice` (Linux: the value is per thread).
fn lower_priority(nice: u8) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let thread = Some(rustix::thread::gettid());
        let lowered = getpriority_process(thread)
            .map(|current| (current + i32::from(nice)).min(19))
            .and_then(|target| setpriority_process(thread, target));
        if let Err(error) = lowered {
            tracing::warn!(%error, "could not lower the thumbnail worker's priority");
        }
    }
}

/// At most `rate` starts per second, in bursts of up to `rate`.
struct TokenBucket {
    rate: f64,
    tokens: f64,
    refilled: Option<Instant>,
}

impl TokenBucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate);
        Self {
            rate,
            tokens: rate,
            refilled: None,
        }
    }

    /// Takes a token if one is there at `now`.
    fn take(&mut self, now: Instant) -> bool {
        if let Some(refilled) = self.refilled {
            let earned = now.saturating_duration_since(refilled).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + earned).min(self.rate);
        }
        self.refilled = Some(now);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_bucket_allows_a_seconds_worth_then_refills_at_the_rate() {
        let mut bucket = TokenBucket::new(4);
        let start = Instant::now();
        let burst = (0..10).filter(|_| bucket.take(start)).count();
        assert_eq!(burst, 4);
        assert!(!bucket.take(start + Duration::from_millis(200)));
        // 250 ms more: a whole token again (4 per second).
        assert!(bucket.take(start + Duration::from_millis(450)));
        assert!(!bucket.take(start + Duration::from_millis(460)));
    }

    #[test]
    fn a_rate_of_zero_starts_nothing() {
        let mut bucket = TokenBucket::new(0);
        let now = Instant::now();
        assert!(!bucket.take(now));
        assert!(!bucket.take(now + Duration::from_secs(10)));
    }
}
