//! One connection: the socket prepared (no Nagle, a write timeout, its reads counted for the
//! [`HeadTimer`]), served by hyper's HTTP/1 with the router, and stopped by the drain.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::ConnectionLimits;
use super::head_timer::{Expired, HeadTimer, ReadCount};

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The client or the server closed it after a complete exchange.
    Done,
    /// A request's headers were not complete in time.
    HeaderTimeout,
    /// No request came within the idle timeout after a response.
    IdleTimeout,
    /// An I/O or protocol error (a client that stopped reading, malformed requests).
    Failed,
    /// Still busy when the drain deadline passed.
    Drained,
}

/// The drain as one connection sees it.
pub(crate) struct Stop {
    /// Cancelled when the drain starts: finish the request in flight, take no other.
    pub draining: CancellationToken,
    /// Cancelled when the drain deadline passes: close now.
    pub closing: CancellationToken,
}

/// An accepted socket with its write timeout.
pub(crate) type Prepared = Pin<Box<TimeoutStream<TcpStream>>>;

/// Sets up an accepted socket.
pub(crate) fn prepare(socket: TcpStream, write_timeout: Duration) -> Prepared {
    // Live media is latency-bound: Nagle would hold back small FLV tags.
    let _ = socket.set_nodelay(true);
    let mut stream = TimeoutStream::new(socket);
    stream.set_write_timeout(Some(write_timeout));
    Box::pin(stream)
}

/// Serves HTTP/1.1 requests on `io`, whose first bytes were already read as `first` (a
/// [`super::Takeover`] looked at them; empty otherwise), with `router` until the connection
/// ends. Handlers can
/// read the peer's address as `ConnectInfo<SocketAddr>`. `record` learns how it ended before
/// the socket is closed, so a client that sees the close also sees it counted.
pub(crate) async fn serve<I>(
    io: I,
    first: Vec<u8>,
    peer: SocketAddr,
    router: axum::Router,
    limits: &ConnectionLimits,
    stop: &Stop,
    record: impl FnOnce(Closed),
) -> Closed
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let reads = ReadCount::default();
    let timer = HeadTimer::new(
        limits.header_read_timeout,
        limits.idle_timeout,
        reads.clone(),
    );
    let io = TokioIo::new(Counted::new(io, first, reads));
    let service = service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move { router.call(request).await }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(timer.clone())
        .header_read_timeout(limits.header_read_timeout);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => Some(result),
        () = stop.draining.cancelled() => {
            // Idle connections close now; a response in flight finishes, then the connection closes.
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = connection.as_mut() => Some(result),
                () = stop.closing.cancelled() => None,
            }
        }
    };
    let closed = classify(result, peer, &timer);
    record(closed);
    closed
}

/// How the connection ended, from hyper's result (`None`: cut by the drain deadline).
fn classify(result: Option<hyper::Result<()>>, peer: SocketAddr, timer: &HeadTimer) -> Closed {
    let Some(result) = result else {
        return Closed::Drained;
    };
    match result {
        Ok(()) => Closed::Done,
        Err(error) if error.is_timeout() => {
            tracing::debug!(%peer, "http connection timed out");
            match timer.expired() {
                Expired::Idle => Closed::IdleTimeout,
                Expired::Header | Expired::Nothing => Closed::HeaderTimeout,
            }
        }
        Err(error) => {
            tracing::debug!(%peer, %error, "http connection failed");
            Closed::Failed
        }
    }
}

/// A socket whose reads are counted, and whose bytes already read are read again first.
struct Counted<I> {
    inner: I,
    reads: ReadCount,
    first: Vec<u8>,
    /// How much of `first` was read again.
    replayed: usize,
}

impl<I> Counted<I> {
    fn new(inner: I, first: Vec<u8>, reads: ReadCount) -> Self {
        Self {
            inner,
            reads,
            first,
            replayed: 0,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Counted<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let rest = &this.first[this.replayed..];
        if !rest.is_empty() {
            let count = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..count]);
            this.replayed += count;
            if this.replayed == this.first.len() {
                this.first = Vec::new();
                this.replayed = 0;
            }
            this.reads.add(count as u64);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            this.reads.add(read as u64);
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Counted<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    /// Kept from the socket, so hyper queues shared body chunks instead of copying them.
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
