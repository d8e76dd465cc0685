//! HTTP-FLV: the FLV header, then metadata, codec configurations and the cached GOP as the
//! hub's own tag buffers (shared, never copied per viewer; hyper writes them out vectored),
//! then the hub's batches, each one body chunk of tags concatenated once for every viewer.
//!
//! A viewer is the shared [`Cursor`] (as for RTMP players) serialized as FLV tags: one that
//! falls `max_lag` behind, or off the end of the ring, skips to the next keyframe; one that
//! must skip `max_skips` times in `skip_window` is cut. A socket that accepts nothing for
//! `write_timeout` is cut by the listener.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferrocast_base::PlaybackId;
use ferrocast_live::{Cursor, Egress, Frame, LiveError, Step};
use ferrocast_media::flv::file_header;
use ferrocast_ops::LiveGuard;

use crate::auth::{self, Audience};
use crate::metrics;
use crate::reply::{error, not_found};
use crate::state::Edge;

/// `GET /live/{playback_id}.flv` (with `?token=` for a signed stream; checked once, when the
/// viewer connects), when hyper serves it: a request after the first on a kept-alive
/// connection. A connection's first such request is served outside hyper ([`crate::flv_direct`]).
pub async fn serve(
    State(edge): State<Arc<Edge>>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    request: HeaderMap,
) -> Response {
    let (cursor, start) = match open(&edge, &file, query.as_deref(), &request).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let viewer = Viewer::new(cursor, start);
    let body = Body::from_stream(futures::stream::unfold(viewer, Viewer::next_chunk));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
    ];
    (headers, body).into_response()
}

/// The response's `Content-Type`.
pub(crate) const CONTENT_TYPE: &str = "video/x-flv";
/// The response's `Cache-Control`: a live body is never stored.
pub(crate) const CACHE_CONTROL: &str = "no-cache, no-store";

/// Admits a viewer of `file` (`{playback_id}.flv`) and subscribes it: its cursor and start
/// frames, or the response that refuses it.
pub(crate) async fn open(
    edge: &Edge,
    file: &str,
    query: Option<&str>,
    request: &HeaderMap,
) -> Result<(Cursor, Vec<Frame>), Response> {
    let Some(playback_id) = file.strip_suffix(".flv").map(PlaybackId::new) else {
        return Err(not_found());
    };
    let admitted = auth::admit(edge, &playback_id, query, request, Audience::Live);
    let stream_id = admitted.await?.stream_id;
    let (hub, subscription) = match edge.deps.live.subscribe(&stream_id).await {
        Ok(opened) => opened,
        Err(LiveError::Offline) => return Err(not_found()),
        Err(failure) => {
            tracing::warn!(%stream_id, error = %failure, "live upstream unavailable");
            return Err(error(
                axum::http::StatusCode::BAD_GATEWAY,
                "live upstream unavailable\n",
            ));
        }
    };
    let limits = edge.config.viewers.clone();
    Ok(Cursor::new(
        hub,
        subscription,
        limits,
        metrics::flv_frames_dropped,
    ))
}

/// The FLV file header for `hub`'s stream.
pub(crate) fn stream_header(hub: &ferrocast_live::Hub) -> Bytes {
    let (audio, video) = (hub.has_audio(), hub.has_video());
    // Before any media has arrived, announce both: the usual stream carries both.
    let header = if audio || video {
        file_header(audio, video)
    } else {
        file_header(true, true)
    };
    Bytes::copy_from_slice(&header)
}

/// One HTTP-FLV viewer: the shared [`Cursor`], serialized as FLV tags.
struct Viewer {
    cursor: Cursor,
    /// The start frames, until the first body chunk is asked for.
    start: Option<Vec<Frame>>,
    /// Body chunks to send before the next step, one by one: the start (the FLV header, then
    /// the hub's cached tags) or the tags that passed of a batch some of whose frames were
    /// dropped. Each is a handle on the hub's buffer, so a viewer's start costs no GOP copy.
    queued: VecDeque<Bytes>,
    egress: Egress,
    _connected: LiveGuard,
}

impl Viewer {
    fn new(cursor: Cursor, start: Vec<Frame>) -> Self {
        Self {
            cursor,
            start: Some(start),
            queued: VecDeque::new(),
            egress: Egress::new(metrics::flv_egress()),
            _connected: metrics::FLV_VIEWERS.enter(),
        }
    }

    /// The next body chunk; `None` ends the response.
    async fn next_chunk(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        if let Some(start) = self.start.take() {
            self.queue_start(start);
        }
        loop {
            if let Some(tags) = self.queued.pop_front() {
                self.egress.sent(tags.len());
                return Some((Ok(tags), self));
            }
            match self.cursor.next().await {
                Step::Batch(batch) => {
                    let tags = batch.flv_tags().clone();
                    self.egress.sent(tags.len());
                    return Some((Ok(tags), self));
                }
                Step::Frames(frames) => {
                    self.queued
                        .extend(frames.into_iter().map(|frame| frame.tag));
                }
                Step::Skipped => {}
                Step::Ended => return None,
                Step::Cut => return self.cut(),
            }
        }
    }

    /// Ends a viewer that cannot keep up.
    fn cut(self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        tracing::info!("flv viewer cut: cannot keep up");
        metrics::flv_viewer_cut();
        None
    }

    /// Queues the FLV header and the hub's start frames (metadata, codec configurations, the
    /// GOP): handles on the hub's tags, not a copy.
    fn queue_start(&mut self, start: Vec<Frame>) {
        self.queued.push_back(stream_header(self.cursor.hub()));
        self.queued.extend(start.into_iter().map(|frame| frame.tag));
    }
}

#[cfg(test)]
mod tests {
    use ferrocast_live::{FrameKind, Hub, HubLimits};

    use super::*;

    #[tokio::test]
    async fn a_new_viewer_is_sent_the_hubs_own_tag_buffers() {
        let hub = Arc::new(Hub::new(HubLimits::default()));
        hub.publish(Frame::script(0, b"meta"));
        hub.publish(Frame::sequence_header(
            FrameKind::Video,
            0,
            &[0x17, 0, 0, 0, 0],
        ));
        hub.publish(Frame::keyframe(0, &[0x17, 1, 0, 0, 0, 7]));
        for ts in [33, 66, 100] {
            hub.publish(Frame::video(ts, &[0x27, 1, 0, 0, 0, 8]));
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

        let limits = ferrocast_live::ViewerLimits::default();
        let (cursor, start) = Cursor::new(hub.clone(), subscription, limits, |_| {});
        let mut viewer = Viewer::new(cursor, start);
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
