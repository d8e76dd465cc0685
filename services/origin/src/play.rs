//! RTMP play: `rtmp://host/<publish app>/<playback id>` gets the stream's start frames
//! (metadata, codec configurations, the cached GOP), then live frames.
//!
//! Each frame is serialized as RTMP chunks once, by the first player that sends it, and each
//! of the hub's batches is concatenated once ([`ferrocast_live::Batch::rtmp_chunks`]), so a
//! player costs a socket write of shared bytes. A player wakes every `play_merge_window` and
//! writes whatever arrived since in one vectored write: on loopback and on a busy server most
//! of a write's cost is per call, not per byte (merged writes, as SRS does by default). With
//! a zero window it writes each batch as it comes. Per player there is the shared [`Cursor`] (the ring
//! position and the slow-viewer policy, as for HTTP-FLV viewers) and the pending writes,
//! nothing else: a player that falls behind skips to the next keyframe and is cut if it keeps
//! falling behind; a write that stalls past the write timeout ends it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocast_base::{PlaybackId, PlaybackPolicy};
use ferrocast_live::{Cursor, Egress, Frame, Hub, Step, Subscription, ViewerLimits};
use ferrocast_ops::LiveGuard;
use ferrocast_rtmp::{Connection, Player, RtmpError};
use tokio::time::{Interval, MissedTickBehavior, interval, timeout};

use crate::{OriginConfig, OriginDeps, metrics};

/// Messages gathered into one write; a player more than this many behind writes in steps.
const MAX_PENDING: usize = 64;

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
/// drain closes the publishes), bounding how far behind the player may fall by `limits`. A
/// player hanging up is not an error.
pub(crate) async fn serve(
    mut connection: Connection,
    request: PlayRequest<'_>,
    config: &OriginConfig,
    deps: &OriginDeps,
    limits: ViewerLimits,
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
    let (cursor, start) = Cursor::new(hub, subscription, limits, metrics::rtmp_frames_dropped);
    let merge_window = config.rtmp.play_merge_window;
    match Viewer::new(player, cursor).run(start, merge_window).await {
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
    // The play name is where a playback id enters the origin.
    let playback_id = PlaybackId::new(playback_id(request.key));
    let lookup = deps.directory.resolve_stream(&playback_id);
    let stream_id = match timeout(config.authorize_timeout, lookup).await {
        // RTMP play has no place for a playback token: a signed stream plays over HTTP only.
        Ok(Ok(Some(stream))) if stream.policy == PlaybackPolicy::Signed => {
            return Err(Refusal {
                code: "NetStream.Play.Failed",
                reason: "signed_playback",
                description: "this stream needs a playback token: play it over HTTP",
            });
        }
        Ok(Ok(Some(stream))) => stream.stream_id,
        Ok(Ok(None)) => return Err(not_found("unknown_playback_id")),
        Ok(Err(_)) | Err(_) => {
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

/// What the steps taken so far mean for the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Continue,
    StreamEnded,
    Cut,
}

/// One RTMP player: the shared [`Cursor`], serialized as RTMP chunks.
struct Viewer {
    player: Player,
    cursor: Cursor,
    /// Serialized media waiting for the next write; at most [`MAX_PENDING`] after the start.
    pending: Vec<Bytes>,
    egress: Egress,
    _playing: LiveGuard,
}

impl Viewer {
    fn new(player: Player, cursor: Cursor) -> Self {
        Self {
            player,
            cursor,
            pending: Vec::with_capacity(MAX_PENDING),
            egress: Egress::new(metrics::rtmp_egress()),
            _playing: metrics::PLAYERS.enter(),
        }
    }

    async fn run(mut self, start: Vec<Frame>, merge_window: Duration) -> Result<(), RtmpError> {
        self.push_frames(&start);
        drop(start);
        self.flush().await?;
        self.pending.shrink_to(MAX_PENDING);
        let mut ticks = (!merge_window.is_zero()).then(|| {
            let mut ticks = interval(merge_window);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        loop {
            // No drain branch here: polling a cancellation token on every wake-up costs more
            // than the rest of it, and a player ends with its stream anyway, which the drain
            // closes at its deadline.
            let Some(next) = self.wait(ticks.as_mut()).await? else {
                tracing::info!("player stopped");
                return Ok(());
            };
            let next = self.take_ready(next);
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

    /// Waits for the next tick of the merge window, or without one for the next step;
    /// `None` when the player stopped.
    async fn wait(&mut self, ticks: Option<&mut Interval>) -> Result<Option<Next>, RtmpError> {
        let next = match ticks {
            Some(ticks) => tokio::select! {
                biased;
                stopped = self.player.stopped() => return stopped.map(|()| None),
                _ = ticks.tick() => Next::Continue,
            },
            None => {
                let step = tokio::select! {
                    biased;
                    stopped = self.player.stopped() => return stopped.map(|()| None),
                    step = self.cursor.next() => step,
                };
                self.take(step)
            }
        };
        Ok(Some(next))
    }

    /// Adds the steps already waiting in the ring, up to [`MAX_PENDING`] messages.
    fn take_ready(&mut self, mut next: Next) -> Next {
        while next == Next::Continue && self.pending.len() < MAX_PENDING {
            let Some(step) = self.cursor.next_ready() else {
                break;
            };
            next = self.take(step);
        }
        next
    }

    fn take(&mut self, step: Step) -> Next {
        match step {
            Step::Batch(batch) if self.player.uses_shared_serialization() => {
                self.pending.push(batch.rtmp_chunks().clone());
            }
            Step::Batch(batch) => self.push_frames(batch.frames()),
            Step::Frames(frames) => self.push_frames(&frames),
            Step::Skipped => {}
            Step::Ended => return Next::StreamEnded,
            Step::Cut => return Next::Cut,
        }
        Next::Continue
    }

    fn push_frames(&mut self, frames: &[Frame]) {
        for frame in frames {
            let chunks = self.chunks(frame);
            self.pending.push(chunks);
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
        if self.pending.is_empty() {
            return Ok(());
        }
        self.player.send(&self.pending).await?;
        let sent: usize = self.pending.iter().map(Bytes::len).sum();
        self.pending.clear();
        self.egress.sent(sent);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playback_id_drops_extension_and_query() {
        assert_eq!(playback_id("abc123"), "abc123");
        assert_eq!(playback_id("abc123.flv"), "abc123");
        assert_eq!(playback_id("abc123?token=x"), "abc123");
        assert_eq!(playback_id("abc123.flv?token=x.flv"), "abc123");
    }
}
