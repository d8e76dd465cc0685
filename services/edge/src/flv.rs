//! HTTP-FLV: the FLV header, then metadata, codec configurations and the cached GOP as the
//! hub's own tag buffers (shared, never copied per viewer; hyper writes them out vectored),
//! then the hub's batches, each one body chunk of tags concatenated once for every viewer.
//!
//! A viewer is a cursor into the shared ring, not a queue. One that falls `max_lag` behind, or
//! off the end of the ring, skips to the next keyframe; one that must skip `max_skips` times in
//! `skip_window` is cut. A socket that accepts nothing for `write_timeout` is cut by the
//! listener.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferrocast_live::{
    BatchVerdict, Hub, LiveEdge, LiveError, Subscription, Verdict, ViewerLimits, ViewerPolicy,
};
use ferrocast_media::flv::file_header;
use tokio::sync::broadcast::error::RecvError;

use crate::metrics;
use crate::router::{Edge, error, not_found, resolve};
use ferrocast_ops::LiveGuard;

/// `GET /live/{playback_id}.flv`.
pub async fn serve(State(edge): State<Arc<Edge>>, Path(file): Path<String>) -> Response {
    let Some(playback_id) = file.strip_suffix(".flv") else {
        return not_found();
    };
    let stream_id = match resolve(&edge, playback_id).await {
        Ok(stream_id) => stream_id,
        Err(response) => return response,
    };
    let (hub, subscription) = match edge.deps.live.subscribe(&stream_id).await {
        Ok(opened) => opened,
        Err(LiveError::Offline) => return not_found(),
        Err(failure) => {
            tracing::warn!(%stream_id, error = %failure, "live upstream unavailable");
            return error(
                axum::http::StatusCode::BAD_GATEWAY,
                "live upstream unavailable\n",
            );
        }
    };
    let viewer = Viewer::new(hub, subscription, edge.config.viewers.clone());
    let body = Body::from_stream(futures::stream::unfold(viewer, Viewer::next_chunk));
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("video/x-flv"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store"),
        ),
    ];
    (headers, body).into_response()
}

/// One HTTP-FLV viewer's position in the stream.
struct Viewer {
    hub: Arc<Hub>,
    subscription: Subscription,
    policy: ViewerPolicy,
    sent_start: bool,
    /// Body chunks to send before the next batch, one by one: the start (the FLV header, then
    /// the hub's cached tags) or the tags that passed of a batch some of whose frames were
    /// dropped. Each is a handle on the hub's buffer, so a viewer's start costs no GOP copy.
    queued: VecDeque<Bytes>,
    _connected: LiveGuard,
    egress: ::metrics::Counter,
    /// Bytes sent but not yet added to `egress`: one shared atomic add per frame per viewer
    /// would contend across cores.
    unreported_bytes: u64,
}

/// Flushes to the shared egress counter in steps of this many bytes.
const EGRESS_REPORT_BYTES: u64 = 256 * 1024;

impl Drop for Viewer {
    fn drop(&mut self) {
        self.egress.increment(self.unreported_bytes);
    }
}

impl Viewer {
    fn new(hub: Arc<Hub>, subscription: Subscription, limits: ViewerLimits) -> Self {
        Self {
            hub,
            subscription,
            policy: ViewerPolicy::new(limits),
            sent_start: false,
            queued: VecDeque::new(),
            _connected: metrics::FLV_VIEWERS.enter(),
            egress: metrics::flv_egress(),
            unreported_bytes: 0,
        }
    }

    /// The next body chunk; `None` ends the response.
    async fn next_chunk(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        if !self.sent_start {
            self.sent_start = true;
            self.queue_start();
        }
        loop {
            if let Some(tags) = self.queued.pop_front() {
                self.count_sent(tags.len());
                return Some((Ok(tags), self));
            }
            let batch = match self.subscription.live.recv_batch().await {
                Ok(batch) => batch,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "flv viewer fell off the ring");
                    metrics::flv_frames_dropped(missed);
                    if self.policy.overrun(Instant::now()) == Verdict::Cut {
                        return self.cut();
                    }
                    continue;
                }
                Err(RecvError::Closed) => return None,
            };
            let live = LiveEdge {
                newest_timestamp_ms: self.hub.newest_timestamp_ms(),
                has_video: self.hub.has_video(),
            };
            match self.policy.judge_batch(&batch, live, Instant::now()) {
                BatchVerdict::All => {
                    let tags = batch.flv_tags().clone();
                    self.count_sent(tags.len());
                    return Some((Ok(tags), self));
                }
                BatchVerdict::Part { send, dropped } => {
                    metrics::flv_frames_dropped(dropped);
                    self.queued.extend(send.into_iter().map(|frame| frame.tag));
                }
                BatchVerdict::Cut => return self.cut(),
            }
        }
    }

    /// Ends a viewer that cannot keep up.
    fn cut(self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        tracing::info!("flv viewer cut: cannot keep up");
        metrics::flv_viewer_cut();
        None
    }

    fn count_sent(&mut self, bytes: usize) {
        self.unreported_bytes += bytes as u64;
        if self.unreported_bytes >= EGRESS_REPORT_BYTES {
            self.egress
                .increment(std::mem::take(&mut self.unreported_bytes));
        }
    }

    /// Queues the FLV header and the hub's start frames (metadata, codec configurations, the
    /// GOP): handles on the hub's tags, not a copy.
    fn queue_start(&mut self) {
        let start = std::mem::take(&mut self.subscription.start);
        let (audio, video) = (self.hub.has_audio(), self.hub.has_video());
        // Before any media has arrived, announce both: the usual stream carries both.
        let header = if audio || video {
            file_header(audio, video)
        } else {
            file_header(true, true)
        };
        self.queued.push_back(Bytes::copy_from_slice(&header));
        self.queued.extend(start.into_iter().map(|frame| frame.tag));
    }
}

#[cfg(test)]
mod tests {
    use ferrocast_live::{Frame, FrameKind, HubLimits};

    use super::*;

    #[tokio::test]
    async fn a_new_viewer_is_sent_the_hubs_own_tag_buffers() {
        let hub = Arc::new(Hub::new(HubLimits::default()));
        hub.publish(Frame::new(FrameKind::Script, 0, false, false, b"meta"));
        hub.publish(Frame::new(
            FrameKind::Video,
            0,
            false,
            true,
            &[0x17, 0, 0, 0, 0],
        ));
        hub.publish(Frame::new(
            FrameKind::Video,
            0,
            true,
            false,
            &[0x17, 1, 0, 0, 0, 7],
        ));
        for ts in [33, 66, 100] {
            hub.publish(Frame::new(
                FrameKind::Video,
                ts,
                false,
                false,
                &[0x27, 1, 0, 0, 0, 8],
            ));
        }
        let subscription = hub.subscribe().unwrap();
        let held: Vec<Bytes> = subscription
            .start
            .iter()
            .map(|frame| frame.tag.clone())
            .collect();
        assert_eq!(
            held.len(),
            6,
            "metadata, configuration, keyframe and three frames"
        );

        let mut viewer = Viewer::new(hub.clone(), subscription, ViewerLimits::default());
        let mut chunks = Vec::new();
        for _ in 0..=held.len() {
            let (chunk, next) = viewer.next_chunk().await.unwrap();
            chunks.push(chunk.unwrap());
            viewer = next;
        }

        assert_eq!(chunks[0].as_ref(), file_header(false, true));
        for (sent, hubs) in chunks[1..].iter().zip(&held) {
            // The same bytes at the same address: a handle on the hub's buffer, not a copy.
            assert_eq!(sent.as_ptr(), hubs.as_ptr());
            assert_eq!(sent.len(), hubs.len());
        }
    }
}
