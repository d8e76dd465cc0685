//! RTMP play: `rtmp://host/<publish app>/<playback id>` gets the stream's start frames
//! (metadata, codec configurations, the cached GOP), then live frames.
//!
//! Each frame is serialized as RTMP chunks once, by the first player that sends it, and shared
//! by every other ([`Frame::rtmp_chunks`]), so a player costs a socket write of shared bytes.
//! Frames ready together go out in one vectored write, and audio waits (at most
//! [`AUDIO_HOLD_MS`] of media) for the next video frame to share its write. Per player there
//! is the ring cursor, the slow-viewer policy and the current batch, nothing else: a player
//! that falls behind skips to the next keyframe and is cut if it keeps falling behind
//! ([`ViewerPolicy`]); a write that stalls past the write timeout ends it.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ferrocast_live::{
    Frame, FrameKind, Hub, LiveEdge, Subscription, Verdict, ViewerLimits, ViewerPolicy,
};
use ferrocast_ops::LiveGuard;
use ferrocast_rtmp::{Connection, Player, RtmpError};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::timeout;

use crate::{OriginConfig, OriginDeps, metrics};

/// Frames gathered into one vectored write when several are ready at once.
const MAX_BATCH: usize = 32;
/// How much media time of audio may wait for the next video frame to share its write. A
/// 30 fps stream sends video every 33 ms; this delays audio only, which players buffer anyway.
const AUDIO_HOLD_MS: u32 = 40;
/// Adds to the shared egress counter in steps of this many bytes: one atomic add per frame per
/// player would contend across cores.
const EGRESS_REPORT_BYTES: u64 = 256 * 1024;

/// A play command as the connection received it.
pub(crate) struct PlayRequest<'a> {
    pub request_id: u32,
    pub app: &'a str,
    /// The stream name: the playback id, maybe with `.flv` or a query.
    pub key: &'a str,
    /// The message stream the player plays on.
    pub stream_id: u32,
}

/// Serves a play request until the player stops or the stream ends (at the latest when the
/// drain closes the publishes). A player hanging up is not an error.
pub(crate) async fn serve(
    mut connection: Connection,
    request: PlayRequest<'_>,
    config: &OriginConfig,
    deps: &OriginDeps,
) -> Result<(), RtmpError> {
    let (hub, subscription) = match find(&request, config, deps).await {
        Ok(found) => found,
        Err(refusal) => {
            tracing::info!(reason = refusal.reason, "play refused");
            connection
                .reject_play(request.stream_id, refusal.code, refusal.description)
                .await?;
            return Ok(());
        }
    };
    let player = connection
        .accept_play(request.request_id, request.stream_id)
        .await?;
    tracing::info!(start_frames = subscription.start.len(), "play started");
    let Subscription { start, live } = subscription;
    match Viewer::new(player, hub, live).run(start).await {
        Err(error) if hung_up(&error) => {
            tracing::info!("player hung up");
            Ok(())
        }
        outcome => outcome,
    }
}

/// Why a play was refused.
struct Refusal {
    /// The `onStatus` code.
    code: &'static str,
    /// A short label for logs.
    reason: &'static str,
    description: &'static str,
}

fn not_found(reason: &'static str) -> Refusal {
    Refusal {
        code: "NetStream.Play.StreamNotFound",
        reason,
        description: "no live stream with this playback id",
    }
}

async fn find(
    request: &PlayRequest<'_>,
    config: &OriginConfig,
    deps: &OriginDeps,
) -> Result<(Arc<Hub>, Subscription), Refusal> {
    if request.app != config.publish_app {
        return Err(not_found("wrong_app"));
    }
    let playback_id = playback_id(request.key);
    let lookup = deps.directory.resolve_playback(playback_id);
    let stream_id = match timeout(config.authorize_timeout, lookup).await {
        Ok(Some(stream_id)) => stream_id,
        Ok(None) => return Err(not_found("unknown_playback_id")),
        Err(_) => {
            return Err(Refusal {
                code: "NetStream.Play.Failed",
                reason: "directory_unavailable",
                description: "stream directory unavailable, try again",
            });
        }
    };
    tracing::Span::current().record("stream_id", stream_id.as_str());
    // In the cluster only the origin that ingests a stream has its hub.
    let hub = deps.hubs.get(&stream_id).ok_or(not_found("offline"))?;
    let subscription = hub.subscribe().ok_or(not_found("offline"))?;
    Ok((hub, subscription))
}

/// The playback id in a play name: players may add `.flv` or a query string.
fn playback_id(key: &str) -> &str {
    let name = key.split_once('?').map_or(key, |(name, _)| name);
    name.strip_suffix(".flv").unwrap_or(name)
}

/// A peer that went away mid-write or mid-read: the usual end of a player.
fn hung_up(error: &RtmpError) -> bool {
    use std::io::ErrorKind;
    matches!(
        error,
        RtmpError::Io(io) if matches!(
            io.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
        )
    )
}

/// What the frames received so far mean for the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Continue,
    StreamEnded,
    Cut,
}

/// What a batch of frames holds, to decide whether it waits for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchSpan {
    first_ms: u32,
    last_ms: u32,
    has_video: bool,
}

impl BatchSpan {
    fn extend(span: Option<BatchSpan>, frame: &Frame) -> BatchSpan {
        let is_video = frame.kind == FrameKind::Video;
        match span {
            None => BatchSpan {
                first_ms: frame.timestamp_ms,
                last_ms: frame.timestamp_ms,
                has_video: is_video,
            },
            Some(span) => BatchSpan {
                last_ms: frame.timestamp_ms,
                has_video: span.has_video || is_video,
                ..span
            },
        }
    }

    fn media_ms(&self) -> u32 {
        self.last_ms.saturating_sub(self.first_ms)
    }
}

/// One RTMP player's position in the stream.
struct Viewer {
    player: Player,
    hub: Arc<Hub>,
    live: Receiver<Frame>,
    policy: ViewerPolicy,
    /// Serialized frames waiting for the next write; at most [`MAX_BATCH`] after the start.
    batch: Vec<Bytes>,
    /// What `batch` holds; `None` when it is empty.
    batch_span: Option<BatchSpan>,
    egress: ::metrics::Counter,
    /// Bytes sent but not yet added to `egress`.
    unreported_bytes: u64,
    _playing: LiveGuard,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.egress.increment(self.unreported_bytes);
    }
}

impl Viewer {
    fn new(player: Player, hub: Arc<Hub>, live: Receiver<Frame>) -> Self {
        Self {
            player,
            hub,
            live,
            policy: ViewerPolicy::new(ViewerLimits::default()),
            batch: Vec::with_capacity(MAX_BATCH),
            batch_span: None,
            egress: metrics::rtmp_egress(),
            unreported_bytes: 0,
            _playing: metrics::PLAYERS.enter(),
        }
    }

    async fn run(mut self, start: Vec<Frame>) -> Result<(), RtmpError> {
        if !start.iter().any(|frame| frame.keyframe) {
            // No cached GOP: start at the next keyframe, not mid-GOP.
            self.policy.wait_for_keyframe();
        }
        for frame in &start {
            let chunks = self.chunks(frame);
            self.batch.push(chunks);
        }
        drop(start);
        self.flush().await?;
        self.batch.shrink_to(MAX_BATCH);
        loop {
            // No drain branch here: polling a cancellation token on every frame costs more
            // than the rest of a wake-up, and a player ends with its stream anyway, which the
            // drain closes at its deadline.
            let received = tokio::select! {
                biased;
                stopped = self.player.stopped() => {
                    stopped?;
                    tracing::info!("player stopped");
                    return Ok(());
                }
                received = self.live.recv() => received,
            };
            let now = Instant::now();
            let mut next = self.on_received(received, now);
            next = self.take_ready(next, now);
            if next == Next::Continue && self.should_hold() {
                continue;
            }
            self.flush().await?;
            match next {
                Next::Continue => {}
                Next::StreamEnded => {
                    tracing::info!("stream ended; play complete");
                    return self.player.complete().await;
                }
                Next::Cut => {
                    tracing::info!("player cut: cannot keep up");
                    return Ok(());
                }
            }
        }
    }

    /// Adds the frames already waiting in the ring to the batch, up to [`MAX_BATCH`].
    fn take_ready(&mut self, mut next: Next, now: Instant) -> Next {
        while next == Next::Continue && self.batch.len() < MAX_BATCH {
            let received = match self.live.try_recv() {
                Ok(frame) => Ok(frame),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
                Err(TryRecvError::Closed) => Err(RecvError::Closed),
            };
            next = self.on_received(received, now);
        }
        next
    }

    /// Whether to keep the batch for the next frame: it holds no video, has room, and its
    /// audio spans less than [`AUDIO_HOLD_MS`] of media time. On loopback most of a write's
    /// cost is waking the reader, whatever the size, so audio riding along with the next video
    /// frame makes a player cost about one write per video frame rather than one per frame.
    /// Media time, not a timer: frames arrive in real time, and no timer is armed per player.
    fn should_hold(&self) -> bool {
        let Some(span) = self.batch_span else {
            return false;
        };
        !span.has_video && self.batch.len() < MAX_BATCH && span.media_ms() < AUDIO_HOLD_MS
    }

    fn on_received(&mut self, received: Result<Frame, RecvError>, now: Instant) -> Next {
        let frame = match received {
            Ok(frame) => frame,
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "player fell off the ring");
                metrics::rtmp_frames_dropped(missed);
                return match self.policy.overrun(now) {
                    Verdict::Cut => Next::Cut,
                    Verdict::Send | Verdict::Drop => Next::Continue,
                };
            }
            Err(RecvError::Closed) => return Next::StreamEnded,
        };
        let live = LiveEdge {
            newest_timestamp_ms: self.hub.newest_timestamp_ms(),
            has_video: self.hub.has_video(),
        };
        match self.policy.judge(&frame, live, now) {
            Verdict::Send => {
                let chunks = self.chunks(&frame);
                self.batch.push(chunks);
                self.batch_span = Some(BatchSpan::extend(self.batch_span, &frame));
                Next::Continue
            }
            Verdict::Drop => {
                metrics::rtmp_frames_dropped(1);
                Next::Continue
            }
            Verdict::Cut => Next::Cut,
        }
    }

    fn chunks(&self, frame: &Frame) -> Bytes {
        if self.player.uses_shared_serialization() {
            frame.rtmp_chunks().clone()
        } else {
            frame.rtmp_chunks_on(self.player.stream_id())
        }
    }

    async fn flush(&mut self) -> Result<(), RtmpError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.player.send(&self.batch).await?;
        let sent: usize = self.batch.iter().map(Bytes::len).sum();
        self.batch.clear();
        self.batch_span = None;
        self.unreported_bytes += sent as u64;
        if self.unreported_bytes >= EGRESS_REPORT_BYTES {
            self.egress
                .increment(std::mem::take(&mut self.unreported_bytes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_span_tracks_video_and_media_time() {
        let audio = |ms| Frame::new(FrameKind::Audio, ms, false, false, &[0xAF, 1]);
        let span = BatchSpan::extend(None, &audio(100));
        let span = BatchSpan::extend(Some(span), &audio(121));
        assert_eq!(span.media_ms(), 21);
        assert!(!span.has_video);
        let video = Frame::new(FrameKind::Video, 133, false, false, &[0x27, 1]);
        let span = BatchSpan::extend(Some(span), &video);
        assert!(span.has_video);
        assert_eq!(span.media_ms(), 33);
    }

    #[test]
    fn playback_id_drops_extension_and_query() {
        assert_eq!(playback_id("abc123"), "abc123");
        assert_eq!(playback_id("abc123.flv"), "abc123");
        assert_eq!(playback_id("abc123?token=x"), "abc123");
        assert_eq!(playback_id("abc123.flv?token=x.flv"), "abc123");
    }
}
