//! The timer hyper's HTTP/1 server uses for its header-read timeout, made to tell a slow
//! request from an idle kept-alive connection.
//!
//! hyper starts that timeout whenever it waits for a request head: when the connection opens
//! and again after every response. Alone, it would give a kept-alive connection only the
//! header timeout to send its next request. This timer asks hyper for the same sleeps but
//! stretches the ones that begin after a response: while nothing of the next request has
//! arrived the connection may idle for `idle_timeout`; from the request's first byte its head
//! must be complete within `header_read_timeout`. hyper's HTTP/1 server uses its timer for
//! nothing else (hyper 1.x); the tests in `connection` pin both behaviours down.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioTimer;
use tokio::time::Instant;

/// Bytes read from a connection so far: the socket wrapper adds, the timer looks.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadCount(Arc<AtomicU64>);

impl ReadCount {
    pub fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Which deadline ended the wait for a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// None yet.
    Nothing,
    /// The headers were not complete in time.
    Header,
    /// No request came after the last response.
    Idle,
}

const HEADER: u8 = 1;
const IDLE: u8 = 2;

/// One connection's timer.
#[derive(Debug, Clone)]
pub(crate) struct HeadTimer {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    reads: ReadCount,
    /// [`HEADER`], [`IDLE`], or 0 before either.
    expired: Arc<AtomicU8>,
}

impl HeadTimer {
    pub fn new(header_read_timeout: Duration, idle_timeout: Duration, reads: ReadCount) -> Self {
        Self {
            header_read_timeout,
            idle_timeout,
            reads,
            expired: Arc::default(),
        }
    }

    /// The deadline that expired last.
    pub fn expired(&self) -> Expired {
        match self.expired.load(Ordering::Relaxed) {
            HEADER => Expired::Header,
            IDLE => Expired::Idle,
            _ => Expired::Nothing,
        }
    }
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        TokioTimer::new().sleep(duration)
    }

    /// hyper asks for `now() + header_read_timeout` each time it starts waiting for a head.
    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn Sleep>> {
        let reads_at_start = self.reads.get();
        // Nothing read yet: a new connection, whose first request has the header timeout
        // from the start. Otherwise a response was sent and the connection may idle.
        let idling = reads_at_start > 0;
        let deadline = if idling {
            Instant::now() + self.idle_timeout
        } else {
            Instant::from_std(deadline)
        };
        Box::pin(HeadDeadline {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            idling,
            reads_at_start,
            header_read_timeout: self.header_read_timeout,
            reads: self.reads.clone(),
            expired: self.expired.clone(),
        })
    }

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

/// The wait for one request head.
struct HeadDeadline {
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// Waiting for the first byte of a request after a response.
    idling: bool,
    reads_at_start: u64,
    header_read_timeout: Duration,
    reads: ReadCount,
    expired: Arc<AtomicU8>,
}

impl Future for HeadDeadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // hyper polls this right after each read that did not complete the head, so the
        // first byte of the next request is seen here as it arrives.
        if this.idling && this.reads.get() != this.reads_at_start {
            this.idling = false;
            let deadline = Instant::now() + this.header_read_timeout;
            this.sleep.as_mut().reset(deadline);
        }
        ready!(this.sleep.as_mut().poll(cx));
        let expired = if this.idling { IDLE } else { HEADER };
        this.expired.store(expired, Ordering::Relaxed);
        Poll::Ready(())
    }
}

impl Sleep for HeadDeadline {}
