//! The origin side of `SubscribeParts`: one stream's part log as a replay, then its events as
//! they are applied (ADR 16 decision 4).
//!
//! Like the frame relay, there is no per-subscriber queue: each subscriber reads the log's
//! broadcast ring. One that falls a whole ring behind gets `RESOURCE_EXHAUSTED` rather than a
//! log with a hole: it resubscribes and its replay is applied idempotently. The feed holds
//! only its receiver, so the stream ends (OK) when the origin forgets the log, and with
//! `UNAVAILABLE` when the relay drains.

use ferrocast_base::StreamId;
use ferrocast_live::PartLogs;
use ferrocast_media::ll::LogEvent;
use ferrocast_ops::LiveGuard;
use ferrocast_proto::relay::LogMessage;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{debug, warn};

use crate::{event_to_proto, metrics};

/// The response stream of one `SubscribeParts` call for `stream_id`: `NOT_FOUND` when this
/// process holds no log of it, or an empty one.
pub(crate) fn subscribe(
    part_logs: &PartLogs,
    stream_id: StreamId,
    shutdown: CancellationToken,
) -> Result<BoxStream<'static, Result<LogMessage, Status>>, Status> {
    let log = part_logs
        .get(&stream_id)
        .ok_or_else(|| Status::not_found("no part log here"))?;
    let (replay, live) = log.follow();
    if replay.is_empty() {
        return Err(Status::not_found("part log is empty"));
    }
    debug!(stream_id = %stream_id, replay = replay.len(), "part log subscriber joined");
    let feed = PartsFeed {
        stream_id,
        replay: replay.into_iter(),
        live,
        shutdown,
        finished: false,
        _subscribed: metrics::SERVED_PART_SUBSCRIPTIONS.enter(),
    };
    Ok(feed.into_stream())
}

/// One subscriber's position: the replay first, then the live ring.
struct PartsFeed {
    stream_id: StreamId,
    replay: std::vec::IntoIter<LogEvent>,
    live: broadcast::Receiver<LogEvent>,
    shutdown: CancellationToken,
    finished: bool,
    _subscribed: LiveGuard,
}

impl PartsFeed {
    fn into_stream(self) -> BoxStream<'static, Result<LogMessage, Status>> {
        futures::stream::unfold(self, |mut feed| async move {
            let item = feed.next().await?;
            Some((item, feed))
        })
        .boxed()
    }

    async fn next(&mut self) -> Option<Result<LogMessage, Status>> {
        if self.finished {
            return None;
        }
        if let Some(event) = self.replay.next() {
            let mut message = event_to_proto(event);
            message.replay_end = self.replay.len() == 0;
            return Some(Ok(message));
        }
        let received = tokio::select! {
            biased;
            () = self.shutdown.cancelled() => {
                self.finished = true;
                return Some(Err(Status::unavailable("origin is draining")));
            }
            received = self.live.recv() => received,
        };
        match received {
            Ok(event) => Some(Ok(event_to_proto(event))),
            Err(RecvError::Lagged(missed)) => {
                metrics::part_subscriber_lagged();
                warn!(stream_id = %self.stream_id, missed, "part log subscriber lagged; ending its stream");
                self.finished = true;
                Some(Err(Status::resource_exhausted(
                    "part log subscriber fell behind; resubscribe",
                )))
            }
            Err(RecvError::Closed) => {
                debug!(stream_id = %self.stream_id, "part log removed; closing subscription");
                self.finished = true;
                None
            }
        }
    }
}
