//! The origin side of the relay: each `Subscribe` streams one hub subscription to an edge, and
//! each `SubscribeParts` one part log ([`crate::parts_server`]). Only edges of this cluster may
//! subscribe: every call must carry an edge's cluster
//! credential (`UNAUTHENTICATED` without one, `PERMISSION_DENIED` for another role).
//!
//! There is no per-subscriber queue: the response stream pulls straight from the hub's shared
//! broadcast ring, and HTTP/2 flow control decides how fast. An edge that reads too slowly
//! falls behind the ring, loses frames, and is resumed at the next keyframe.

use std::sync::Arc;
use std::time::Duration;

use ferrocast_base::StreamId;
use ferrocast_live::{
    Frame, GateVerdict as Verdict, Hub, Hubs, LiveReceiver, PartLogs, ResumeGate, Subscription,
};
use ferrocast_ops::LiveGuard;
use ferrocast_proto::auth::{ClusterSecret, Role, Verifier, caller};
use ferrocast_proto::relay::relay_server::{Relay, RelayServer};
use ferrocast_proto::relay::{LogMessage, MediaFrame, SubscribeRequest};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};
use tracing::{debug, info, warn};

use crate::config::{KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT};
use crate::{RelayError, frame_to_proto, metrics, parts_server};

/// Largest relayed message, both ways. A keyframe of high-bitrate video can pass tonic's
/// 4 MiB default, and the hub already bounds its GOP cache at 16 MiB.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// How long `serve` waits, after shutdown, for connections to close: a subscriber that does
/// not read cannot even receive the end of its stream, and must not hold up the process.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// Serves the live hubs and the part logs of this process to edges.
pub struct RelayService {
    hubs: Arc<Hubs>,
    part_logs: Arc<PartLogs>,
    /// Cancelled when the server drains: every open stream then ends with `UNAVAILABLE`, which
    /// tells edges to find the stream's new owner.
    shutdown: CancellationToken,
}

impl RelayService {
    /// A service over `hubs` and `part_logs` whose streams end only when their hubs (logs) do.
    pub fn new(hubs: Arc<Hubs>, part_logs: Arc<PartLogs>) -> Self {
        Self::with_shutdown(hubs, part_logs, CancellationToken::new())
    }

    /// A service over `hubs` and `part_logs` whose streams also end (with `UNAVAILABLE`) on
    /// `shutdown`.
    pub fn with_shutdown(
        hubs: Arc<Hubs>,
        part_logs: Arc<PartLogs>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            hubs,
            part_logs,
            shutdown,
        }
    }
}

/// The relay as a tonic service that only edges with a credential made from `secret` may
/// call, with message limits raised to [`MAX_MESSAGE_BYTES`].
pub fn service(
    hubs: Arc<Hubs>,
    part_logs: Arc<PartLogs>,
    secret: ClusterSecret,
) -> InterceptedService<RelayServer<RelayService>, Verifier> {
    with_limits(RelayService::new(hubs, part_logs), secret)
}

fn with_limits(
    service: RelayService,
    secret: ClusterSecret,
) -> InterceptedService<RelayServer<RelayService>, Verifier> {
    let server = RelayServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    InterceptedService::new(server, Verifier::new(secret))
}

/// Serves the relay of `hubs` and `part_logs` on `listener` to edges with a credential made
/// from `secret` until `shutdown`, then ends every open stream and waits (up to a few seconds)
/// for the connections to close.
pub async fn serve(
    listener: TcpListener,
    hubs: Arc<Hubs>,
    part_logs: Arc<PartLogs>,
    secret: ClusterSecret,
    shutdown: CancellationToken,
) -> Result<(), RelayError> {
    let local = listener.local_addr().ok();
    // Small audio frames must not wait for Nagle's algorithm.
    let incoming = TcpListenerStream::new(listener).map(|connection| {
        if let Ok(stream) = &connection {
            let _ = stream.set_nodelay(true);
        }
        connection
    });
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_service(with_limits(
            RelayService::with_shutdown(hubs, part_logs, shutdown.clone()),
            secret,
        ))
        .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned());
    tokio::pin!(server);
    info!(addr = ?local, "relay serving");
    tokio::select! {
        result = &mut server => return result.map_err(RelayError::from),
        () = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(DRAIN_GRACE, server).await {
        Ok(result) => result.map_err(RelayError::from),
        Err(_) => {
            warn!(addr = ?local, grace = ?DRAIN_GRACE, "relay connections still open after drain grace; leaving them");
            Ok(())
        }
    }
}

#[tonic::async_trait]
impl Relay for RelayService {
    type SubscribeStream = BoxStream<'static, Result<MediaFrame, Status>>;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        caller(&request)?.require(&[Role::Edge], "Subscribe")?;
        let stream_id = StreamId::new(request.into_inner().stream_id);
        if self.shutdown.is_cancelled() {
            return Err(Status::unavailable("relay is draining"));
        }
        let hub = self
            .hubs
            .get(&stream_id)
            .ok_or_else(|| Status::not_found("stream is not live here"))?;
        let subscription = hub
            .subscribe()
            .ok_or_else(|| Status::not_found("stream has ended"))?;
        debug!(stream_id = %stream_id, start_frames = subscription.start.len(), "relay subscriber joined");
        let feed = Feed::new(stream_id, hub, subscription, self.shutdown.clone());
        Ok(Response::new(feed.into_stream()))
    }

    type SubscribePartsStream = BoxStream<'static, Result<LogMessage, Status>>;

    async fn subscribe_parts(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribePartsStream>, Status> {
        caller(&request)?.require(&[Role::Edge], "SubscribeParts")?;
        let stream_id = StreamId::new(request.into_inner().stream_id);
        if self.shutdown.is_cancelled() {
            return Err(Status::unavailable("relay is draining"));
        }
        let stream = parts_server::subscribe(&self.part_logs, stream_id, self.shutdown.clone())?;
        Ok(Response::new(stream))
    }
}

/// One subscriber's position in a hub: start frames first, then the live ring.
struct Feed {
    stream_id: StreamId,
    hub: Arc<Hub>,
    start: std::vec::IntoIter<Frame>,
    live: LiveReceiver,
    gate: ResumeGate,
    shutdown: CancellationToken,
    finished: bool,
    _subscribed: LiveGuard,
    egress: ::metrics::Counter,
}

impl Feed {
    fn new(
        stream_id: StreamId,
        hub: Arc<Hub>,
        subscription: Subscription,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            stream_id,
            hub,
            start: subscription.start.into_iter(),
            live: subscription.live,
            gate: ResumeGate::open(),
            shutdown,
            finished: false,
            _subscribed: metrics::SERVED_SUBSCRIPTIONS.enter(),
            egress: metrics::edge_egress(),
        }
    }

    fn into_stream(self) -> BoxStream<'static, Result<MediaFrame, Status>> {
        futures::stream::unfold(self, |mut feed| async move {
            let item = feed.next().await?;
            Some((item, feed))
        })
        .boxed()
    }

    /// A frame on its way to an edge, counted.
    fn sent(&self, frame: Frame) -> MediaFrame {
        self.egress.increment(frame.tag.len() as u64);
        frame_to_proto(frame)
    }

    async fn next(&mut self) -> Option<Result<MediaFrame, Status>> {
        if self.finished {
            return None;
        }
        if let Some(frame) = self.start.next() {
            return Some(Ok(self.sent(frame)));
        }
        loop {
            let received = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => {
                    self.finished = true;
                    return Some(Err(Status::unavailable("origin is draining")));
                }
                received = self.live.recv() => received,
            };
            match received {
                Ok(frame) => match self.gate.admit(&frame, self.hub.has_video()) {
                    Verdict::Pass => return Some(Ok(self.sent(frame))),
                    Verdict::Resumed { skipped } => {
                        info!(stream_id = %self.stream_id, skipped, "relay subscriber resumed at a keyframe");
                        return Some(Ok(self.sent(frame)));
                    }
                    Verdict::Skip => metrics::dropped_for_edge(1),
                },
                Err(RecvError::Lagged(missed)) => {
                    metrics::dropped_for_edge(missed);
                    warn!(stream_id = %self.stream_id, missed, "relay subscriber lagged; skipping to the next keyframe");
                    self.gate.close(missed);
                }
                Err(RecvError::Closed) => {
                    debug!(stream_id = %self.stream_id, "stream ended; closing relay subscription");
                    self.finished = true;
                    return None;
                }
            }
        }
    }
}
