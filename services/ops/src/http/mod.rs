//! An HTTP/1.1 server for hostile networks, serving an axum router: every connection has a
//! deadline for its request headers and for idling between requests, the number of
//! connections is capped, failed accepts back off, and a drain ends in bounded time.
//!
//! `axum::serve` has none of these: three clients sending one header byte a second, or
//! nothing, held their connections for good, and a flood of idle sockets used up the file
//! descriptors. Responses are not limited in time: an HTTP-FLV viewer's endless body is only
//! cut by the write timeout, when the viewer stops reading.

mod connection;
mod head_timer;
mod metrics;
mod takeover;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accept::{self, Backoff};
use crate::fd::Spare;
use crate::throttle::Throttle;
pub use connection::Closed;
pub(crate) use metrics::collect;
pub use metrics::describe;
pub use takeover::{RequestHead, Takeover};

/// How long a connection may take to send headers or stay idle, and how many may be open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// A request's headers must be complete this long after the connection opened or, on a
    /// kept-alive connection, after the request's first byte; else the connection is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Connections open at once; one more is closed as soon as it is accepted. Lowered at
    /// start to fit the open-file limit (see [`crate::fd::connection_budget`]).
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

/// What a server is and how it treats its connections.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The listener's name in logs and in the `listener` label of the metrics.
    pub name: &'static str,
    /// Timeouts and the connection cap.
    pub limits: ConnectionLimits,
    /// A write that makes no progress for this long fails, closing the connection: a client
    /// that stops reading cannot hold it and its buffers forever.
    pub write_timeout: Duration,
    /// Keep a spare descriptor to accept one connection when the process has run out (the ops
    /// port, which must answer then).
    pub spare_descriptor: bool,
}

/// How the server stops: `shutdown` stops accepting and ends idle connections; requests in
/// flight then have `drain_deadline`, after which the remaining connections are closed.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// Cancelled to start the drain.
    pub token: CancellationToken,
    /// How long requests in flight may finish.
    pub drain_deadline: Duration,
}

/// Serves `router` on `listener` until `shutdown.token` is cancelled, then drains; returns
/// when every connection has ended.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    options: ServerOptions,
    shutdown: Shutdown,
) {
    serve_taking_over(listener, router, None, options, shutdown).await;
}

/// As [`serve`], but a connection whose first request `takeover` wants is served by it, with
/// the bare socket, instead of hyper (see [`Takeover`]).
pub async fn serve_taking_over(
    listener: TcpListener,
    router: axum::Router,
    takeover: Option<Arc<dyn Takeover>>,
    options: ServerOptions,
    shutdown: Shutdown,
) {
    let connections = TaskTracker::new();
    let close = CancellationToken::new();
    let cap = options.limits.max_connections.min(Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(cap));
    let counters = metrics::Counters::new(options.name);
    let mut acceptor = Acceptor::new(listener, &options);
    let mut refusals = Throttle::new(accept::LOG_INTERVAL);
    loop {
        let (socket, peer) = tokio::select! {
            () = shutdown.token.cancelled() => break,
            accepted = acceptor.accept() => accepted,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Counted before the close, so whoever sees the close also sees the count.
            counters.refused.increment(1);
            drop(socket);
            if let Some(refused) = refusals.record(tokio::time::Instant::now()) {
                tracing::warn!(listener = options.name, %peer, limit = cap, refused, "connection refused: limit reached");
            }
            continue;
        };
        let (router, options, takeover) = (router.clone(), options.clone(), takeover.clone());
        let stop = connection::Stop {
            draining: shutdown.token.clone(),
            closing: close.clone(),
        };
        let counters = counters.clone();
        connections.spawn(async move {
            let _open = counters.open.enter();
            let record = |closed| counters.closed(closed);
            let Some(takeover) = takeover else {
                let io = connection::prepare(socket, options.write_timeout);
                let limits = &options.limits;
                connection::serve(io, Vec::new(), peer, router, limits, &stop, record).await;
                drop(slot);
                return;
            };
            // The futures of the ways a connection can go are boxed, so that a connection
            // holds the memory of its own way only, not that of the largest.
            let mut socket = socket;
            let limit = options.limits.header_read_timeout;
            match Box::pin(takeover::read_first(&mut socket, &*takeover, limit)).await {
                takeover::FirstRead::Wanted(head) => {
                    let _ = socket.set_nodelay(true);
                    takeover.serve(socket, head, peer, stop.closing).await;
                    record(Closed::Done);
                }
                takeover::FirstRead::Other(read) => {
                    let io = connection::prepare(socket, options.write_timeout);
                    let limits = &options.limits;
                    let serve = connection::serve(io, read, peer, router, limits, &stop, record);
                    Box::pin(serve).await;
                }
                takeover::FirstRead::TimedOut => {
                    tracing::debug!(%peer, "http connection timed out");
                    record(Closed::HeaderTimeout);
                }
            }
            drop(slot);
        });
    }
    drop(acceptor);
    connections.close();
    tracing::info!(listener = options.name, connections = connections.len(), deadline = ?shutdown.drain_deadline, "draining http");
    if tokio::time::timeout(shutdown.drain_deadline, connections.wait())
        .await
        .is_err()
    {
        tracing::info!(
            listener = options.name,
            connections = connections.len(),
            "drain deadline reached; closing remaining connections"
        );
        close.cancel();
        connections.wait().await;
    }
    tracing::info!(listener = options.name, "http drained");
}

/// A listener whose failed accepts back off, with an optional spare descriptor.
struct Acceptor {
    listener: TcpListener,
    backoff: Backoff,
    spare: Option<Spare>,
}

impl Acceptor {
    fn new(listener: TcpListener, options: &ServerOptions) -> Self {
        Self {
            listener,
            backoff: Backoff::new(options.name),
            spare: options.spare_descriptor.then(Spare::open),
        }
    }

    /// The next connection; failures are counted, logged and waited out here. Cancel-safe.
    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            if let Some(spare) = &mut self.spare {
                spare.refill();
            }
            let error = match self.listener.accept().await {
                Ok(accepted) => {
                    self.backoff.succeeded();
                    return accepted;
                }
                Err(error) => error,
            };
            if accept::is_out_of_descriptors(&error)
                && let Some(spare) = &mut self.spare
                && spare.release()
            {
                // The one free descriptor goes to the connection that is waiting.
                if let Ok(accepted) = self.listener.accept().await {
                    self.backoff.succeeded();
                    return accepted;
                }
            }
            self.backoff.failed(&error).await;
        }
    }
}
