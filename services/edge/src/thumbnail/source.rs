//! Where a thumbnail's keyframe comes from: the newest keyframe of a live stream (the hub's
//! GOP cache starts with it, next to the stream's video configuration), or, with `?time=`,
//! a recording (not yet: recordings are not in this build).

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use ferrocast_base::StreamId;
use ferrocast_live::{Frame, FrameKind, LiveError};
use ferrocast_thumbnail::{Keyframe, ThumbnailError};
use tokio::sync::broadcast::error::RecvError;

use crate::reply::{error, unavailable};
use crate::state::Edge;

/// A live stream's newest keyframe and the video configuration it decodes with.
pub(crate) struct LiveKeyframe {
    /// The serial of the hub it was taken from (see `Key::source`).
    pub(crate) hub_serial: u64,
    /// The video sequence header.
    pub(crate) config: Frame,
    /// The keyframe.
    pub(crate) keyframe: Frame,
}

impl LiveKeyframe {
    /// The keyframe, checked and ready for the decoder: cheap, but a copy of the frame.
    pub(crate) fn prepare(&self) -> Result<Keyframe, ThumbnailError> {
        Keyframe::from_flv(self.config.body(), self.keyframe.body())
    }
}

/// The frames a keyframe search has found so far.
#[derive(Default)]
struct Found {
    config: Option<Frame>,
    keyframe: Option<Frame>,
}

impl Found {
    fn note(&mut self, frame: Frame) {
        if frame.kind != FrameKind::Video {
            return;
        }
        if frame.config {
            self.config = Some(frame);
        } else if frame.keyframe {
            self.keyframe = Some(frame);
        }
    }

    fn both(&mut self) -> Option<(Frame, Frame)> {
        if self.config.is_some() && self.keyframe.is_some() {
            return self.config.take().zip(self.keyframe.take());
        }
        None
    }
}

/// The newest keyframe of the live stream `stream_id`, taken like an HTTP-FLV viewer's
/// start: from the hub's GOP cache. A stream with none cached yet (it just started, or its
/// GOP is larger than the cache) is watched for its next keyframe, up to `wait`. Errors are
/// the response to send: 404 for a stream that is offline or has no video.
pub(crate) async fn newest_keyframe(
    edge: &Edge,
    stream_id: &StreamId,
    wait: Duration,
) -> Result<LiveKeyframe, Response> {
    let (hub, subscription) = match edge.deps.live.subscribe(stream_id).await {
        Ok(opened) => opened,
        Err(LiveError::Offline) => return Err(error(StatusCode::NOT_FOUND, "stream offline\n")),
        Err(failure) => {
            tracing::warn!(%stream_id, error = %failure, "live upstream unavailable");
            return Err(error(
                StatusCode::BAD_GATEWAY,
                "live upstream unavailable\n",
            ));
        }
    };
    let hub_serial = hub.serial();
    let mut found = Found::default();
    for frame in subscription.start {
        found.note(frame);
    }
    let mut live = subscription.live;
    let waited = tokio::time::timeout(wait, async {
        loop {
            if let Some(both) = found.both() {
                return Ok(both);
            }
            if !hub.has_video() && hub.has_audio() {
                return Err(error(StatusCode::NOT_FOUND, "stream has no video\n"));
            }
            match live.recv().await {
                Ok(frame) => found.note(frame),
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => {
                    return Err(error(StatusCode::NOT_FOUND, "stream offline\n"));
                }
            }
        }
    })
    .await;
    match waited {
        Ok(Ok((config, keyframe))) => Ok(LiveKeyframe {
            hub_serial,
            config,
            keyframe,
        }),
        Ok(Err(response)) => Err(response),
        Err(_) => Err(unavailable("no keyframe yet\n")),
    }
}

/// The keyframe of a recording at `time` seconds. Recordings are not in this build, so
/// every such request is 404.
///
/// Where they will come from: a recording's segment that covers `time`, read from object
/// storage, its last keyframe at or before `time` found by the segment's demuxer; an MPEG-TS
/// segment gives it as Annex-B with its parameter sets inline
/// ([`Keyframe::from_annex_b`]), a CMAF segment as an AVC configuration (from its init
/// segment) and an access unit ([`Keyframe::from_avc`]). The result then goes through the
/// same cache and worker as a live keyframe, keyed by the recording and the keyframe's time.
pub(crate) async fn recording_keyframe(
    _stream_id: &StreamId,
    _time_s: f64,
) -> Result<Keyframe, Response> {
    Err(error(StatusCode::NOT_FOUND, "recordings not available\n"))
}
