//! Where a thumbnail's keyframe comes from: the newest keyframe of a live stream (the hub's
//! GOP cache starts with it, next to the stream's video configuration), or, with `?time=`,
//! the keyframe opening a recording's segment, read back from the object store.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use ferrocast_base::StreamId;
use ferrocast_live::{Frame as LiveFrame, FrameKind, LiveError};
use ferrocast_media::ts::demux::first_h264_access_unit;
use ferrocast_store::{IndexError, SegmentRecord, parse_recording_id};
use ferrocast_thumbnail::{Keyframe, ThumbnailError};
use tokio::sync::broadcast::error::RecvError;

use super::cache::Frame;
use crate::reply::{error, unavailable};
use crate::state::Edge;
use crate::unix_millis;

/// A live stream's newest keyframe and the video configuration it decodes with.
pub(crate) struct LiveKeyframe {
    /// The serial of the hub it was taken from (see `Key::source`).
    pub(crate) hub_serial: u64,
    /// The video sequence header.
    pub(crate) config: LiveFrame,
    /// The keyframe.
    pub(crate) keyframe: LiveFrame,
}

impl LiveKeyframe {
    /// Where the keyframe is, for the cache key.
    pub(crate) fn frame(&self) -> Frame {
        Frame::Live {
            hub_serial: self.hub_serial,
            timestamp_ms: self.keyframe.timestamp_ms,
        }
    }

    /// The keyframe, checked and ready for the decoder: cheap, but a copy of the frame.
    pub(crate) fn prepare(&self) -> Result<Keyframe, ThumbnailError> {
        Keyframe::from_flv(self.config.body(), self.keyframe.body())
    }
}

/// The frames a keyframe search has found so far.
#[derive(Default)]
struct Found {
    config: Option<LiveFrame>,
    keyframe: Option<LiveFrame>,
}

impl Found {
    fn note(&mut self, frame: LiveFrame) {
        if frame.kind != FrameKind::Video {
            return;
        }
        if frame.config {
            self.config = Some(frame);
        } else if frame.keyframe {
            self.keyframe = Some(frame);
        }
    }

    fn both(&mut self) -> Option<(LiveFrame, LiveFrame)> {
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

/// The keyframe opening the segment of a recording that holds `time_s`: where it is, and
/// the keyframe ready for the decoder. Segments are cut at keyframes, so this is the last
/// keyframe at or before `time_s` to within a segment's length. `recording_id` names the
/// recording; without it, the stream's newest one that can be played. Errors are the
/// response to send: 404 for no such recording or a time past its end, 415 for a segment
/// with no H.264 video.
pub(crate) async fn recording_keyframe(
    edge: &Edge,
    stream_id: &StreamId,
    recording_id: Option<&str>,
    time_s: f64,
) -> Result<(Frame, Keyframe), Response> {
    let now = unix_millis();
    let index = &edge.deps.index;
    let generation = match recording_id {
        Some(id) => match parse_recording_id(id) {
            Some((owner, generation)) if owner == *stream_id => generation,
            _ => return Err(error(StatusCode::NOT_FOUND, "no such recording\n")),
        },
        None => {
            let summaries = index.recordings(stream_id).await.map_err(index_failed)?;
            let newest = summaries
                .iter()
                .filter(|s| s.is_servable(now))
                .max_by_key(|s| s.generation);
            match newest {
                Some(summary) => summary.generation,
                None => return Err(error(StatusCode::NOT_FOUND, "stream has no recording\n")),
            }
        }
    };
    let recording = match index.recording(stream_id, generation).await {
        Ok(Some(recording)) if recording.summary.is_servable(now) => recording,
        Ok(_) => return Err(error(StatusCode::NOT_FOUND, "no such recording\n")),
        Err(failure) => return Err(index_failed(failure)),
    };
    let Some(record) = covering(&recording.segments, time_s) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "time past the recording's end\n",
        ));
    };
    let data = match edge
        .deps
        .segments
        .get(stream_id, record.epoch, record.seq)
        .await
    {
        Ok(data) => data,
        Err(failure) => {
            tracing::warn!(%stream_id, msn = record.msn.get(), error = %failure, "recorded segment read failed");
            return Err(error(StatusCode::BAD_GATEWAY, "object store unavailable\n"));
        }
    };
    let unsupported = || {
        error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "recording has no H.264 keyframe\n",
        )
    };
    let access_unit = first_h264_access_unit(&data).ok_or_else(unsupported)?;
    let keyframe = Keyframe::from_annex_b(&access_unit).map_err(|_| unsupported())?;
    let frame = Frame::Recorded {
        generation,
        msn: record.msn,
    };
    Ok((frame, keyframe))
}

/// The segment that plays at `time_s` into `segments` (in play order), if any.
fn covering(segments: &[SegmentRecord], time_s: f64) -> Option<&SegmentRecord> {
    let wanted_ms = time_s * 1000.0;
    let mut start_ms = 0.0;
    segments.iter().find(|segment| {
        start_ms += segment.duration_ms as f64;
        wanted_ms < start_ms
    })
}

fn index_failed(failure: IndexError) -> Response {
    tracing::warn!(error = %failure, "index unavailable for a recording thumbnail");
    unavailable("index unavailable\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocast_base::{Epoch, Msn};

    #[test]
    fn time_maps_to_the_segment_playing_then() {
        let segments: Vec<SegmentRecord> = [2000, 2000, 1500]
            .into_iter()
            .enumerate()
            .map(|(msn, duration_ms)| SegmentRecord {
                msn: Msn(msn as u64),
                epoch: Epoch(1),
                seq: msn as u64,
                duration_ms,
                bytes: 1000,
                program_date_time_ms: 0,
                listed_at_ms: 0,
                cmaf: Default::default(),
                discontinuity: false,
            })
            .collect();
        let msn = |time| covering(&segments, time).map(|s| s.msn.get());
        assert_eq!(msn(0.0), Some(0));
        assert_eq!(msn(1.999), Some(0));
        assert_eq!(msn(2.0), Some(1));
        assert_eq!(msn(5.4), Some(2));
        assert_eq!(msn(5.5), None);
    }
}
