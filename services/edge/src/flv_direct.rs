//! HTTP-FLV outside hyper (ADR 25): a connection whose first request is
//! `GET /live/{playback_id}.flv` is taken from the HTTP server before hyper sees it
//! ([`ferrocast_ops::http::Takeover`]), so that its hub's fan-out lane can write to its
//! socket. It is admitted by the same code as through hyper ([`crate::flv::open`]); the
//! response is a plain HTTP/1.1 head and a body that ends when the connection closes (no
//! chunked framing to add per write), then the viewer is a live [`Viewer`] like an RTMP
//! player: its own task until it has caught up, then the lane.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use ferrocast_live::lane::{Ending, Lanes, Outlet, Service, Viewer};
use ferrocast_live::{Batch, Egress, Frame};
use ferrocast_ops::LiveGuard;
use ferrocast_ops::http::{RequestHead, Takeover};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::flv::{self, CACHE_CONTROL, CONTENT_TYPE};
use crate::metrics;
use crate::state::Edge;

/// Most bytes of a refusal's body written.
const MAX_REFUSAL_BYTES: usize = 64 * 1024;

/// The lanes of HTTP-FLV viewers, by hub. One per process: hub serials are unique in it.
static LANES: LazyLock<Arc<Lanes<Arc<TcpStream>>>> =
    LazyLock::new(|| Lanes::new(flv_tags, metrics::flv_egress));

fn flv_tags(batch: &Batch) -> Bytes {
    batch.flv_tags().clone()
}

/// Takes HTTP-FLV viewers' connections from the HTTP server.
pub struct DirectFlv {
    edge: Arc<Edge>,
}

impl DirectFlv {
    /// Serves the HTTP-FLV viewers of `edge`.
    pub(crate) fn new(edge: Arc<Edge>) -> Self {
        Self { edge }
    }
}

/// `{playback_id}.flv` of a `/live/` path.
fn flv_file(path: &str) -> Option<&str> {
    let file = path.strip_prefix("/live/")?;
    (file.ends_with(".flv") && !file.contains('/')).then_some(file)
}

impl Takeover for DirectFlv {
    fn wants(&self, head: &RequestHead) -> bool {
        head.method == Method::GET && flv_file(&head.path).is_some()
    }

    fn serve(
        &self,
        socket: TcpStream,
        head: RequestHead,
        _peer: SocketAddr,
        closing: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let edge = self.edge.clone();
        let span = tracing::info_span!(
            "http",
            method = "GET",
            route = "flv",
            status = tracing::field::Empty
        );
        Box::pin(
            async move {
                tokio::select! {
                    () = serve(edge, Arc::new(socket), head) => {}
                    () = closing.cancelled() => {}
                }
            }
            .instrument(span),
        )
    }
}

async fn serve(edge: Arc<Edge>, socket: Arc<TcpStream>, head: RequestHead) {
    let started = Instant::now();
    let file = flv_file(&head.path).unwrap_or_default();
    let query = head.query.as_deref();
    let write_timeout = edge.config.write_timeout;
    // Boxed: a viewer's task does not keep the admission's memory for its whole life.
    let (cursor, start) = match Box::pin(flv::open(&edge, file, query, &head.headers)).await {
        Ok(opened) => opened,
        Err(refusal) => {
            answered(refusal.status(), started);
            let _ = refuse(&socket, refusal, write_timeout).await;
            return;
        }
    };
    answered(StatusCode::OK, started);
    let mut outlet = FlvOutlet {
        socket,
        write_timeout,
        _connected: metrics::FLV_VIEWERS.enter(),
        in_lane: None,
    };
    let response_head = Bytes::from(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {CONTENT_TYPE}\r\ncache-control: {CACHE_CONTROL}\r\n\
         access-control-allow-origin: *\r\nconnection: close\r\n\r\n"
    ));
    let stream_header = flv::stream_header(cursor.hub());
    if outlet.send(&[response_head, stream_header]).await.is_err() {
        return;
    }
    let service = Service {
        lanes: Some(LANES.clone()),
        merge_window: Duration::ZERO,
        max_lag: edge.config.viewers.max_lag,
        count_dropped: metrics::flv_frames_dropped,
        egress: Egress::new(metrics::flv_egress()),
    };
    match Viewer::new(outlet, service).run(cursor, start).await {
        Ok(Ending::Cut) => {
            tracing::info!("flv viewer cut: cannot keep up");
            metrics::flv_viewer_cut();
        }
        Ok(Ending::Stopped | Ending::StreamEnded) => {}
        Err(error) => tracing::debug!(%error, "flv viewer gone"),
    }
}

/// Counts and traces the answer as the HTTP server does for the routes hyper serves.
fn answered(status: StatusCode, started: Instant) {
    tracing::Span::current().record("status", status.as_u16());
    metrics::HTTP.record("flv", status.as_u16(), started.elapsed());
}

/// Writes a refusal (status, headers, its short body) and lets the connection close.
async fn refuse(socket: &TcpStream, refusal: Response, write_timeout: Duration) -> io::Result<()> {
    let (parts, body) = refusal.into_parts();
    let body = axum::body::to_bytes(body, MAX_REFUSAL_BYTES)
        .await
        .unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("")
    );
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "access-control-allow-origin: *\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    write_all(socket, &[Bytes::from(head), body], write_timeout).await
}

/// Writes `messages` whole; `TimedOut` after `limit` without progress.
async fn write_all(socket: &TcpStream, messages: &[Bytes], limit: Duration) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = messages
        .iter()
        .filter(|message| !message.is_empty())
        .map(|message| IoSlice::new(message))
        .collect();
    let mut slices = slices.as_mut_slice();
    while !slices.is_empty() {
        match socket.try_write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                tokio::time::timeout(limit, socket.writable())
                    .await
                    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// One HTTP-FLV viewer's connection after its response head.
struct FlvOutlet {
    socket: Arc<TcpStream>,
    write_timeout: Duration,
    _connected: LiveGuard,
    in_lane: Option<LiveGuard>,
}

impl Outlet for FlvOutlet {
    type Error = io::Error;

    fn batch_bytes(&self, batch: &Batch) -> Bytes {
        batch.flv_tags().clone()
    }

    fn frame_bytes(&self, frame: &Frame) -> Bytes {
        frame.tag.clone()
    }

    async fn receive(&mut self) -> io::Result<bool> {
        // A viewer sends nothing more after its request; what it does send is dropped. Its
        // close is what this waits for.
        let mut discard = [0u8; 512];
        loop {
            self.socket.readable().await?;
            match self.socket.try_read(&mut discard) {
                Ok(count) => return Ok(count > 0),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
    }

    fn take_replies(&mut self) -> Vec<u8> {
        Vec::new()
    }

    async fn send(&mut self, messages: &[Bytes]) -> io::Result<()> {
        write_all(&self.socket, messages, self.write_timeout).await
    }

    fn lane_socket(&self) -> Option<&Arc<TcpStream>> {
        Some(&self.socket)
    }

    fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    fn timed_out(&self) -> io::Error {
        io::ErrorKind::TimedOut.into()
    }

    fn riding(&mut self, riding: bool) {
        self.in_lane = riding.then(|| metrics::FLV_VIEWERS_IN_LANES.enter());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_live_flv_file_is_taken() {
        assert_eq!(flv_file("/live/abc.flv"), Some("abc.flv"));
        assert_eq!(flv_file("/live/a/b.flv"), None);
        assert_eq!(flv_file("/live/abc.m3u8"), None);
        assert_eq!(flv_file("/hls/abc.flv"), None);
    }
}
