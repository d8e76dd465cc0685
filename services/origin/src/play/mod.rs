//! RTMP play: `rtmp://host/<publish app>/<playback id>` gets the stream's start frames
//! (metadata, codec configurations, the cached GOP), then live frames.
//!
//! Each frame is serialized as RTMP chunks once, by the first player that sends it, and each
//! of the hub's batches is concatenated once ([`ferrocast_live::Batch::rtmp_chunks`]), so a
//! player costs a socket write of shared bytes. A player is a live viewer
//! ([`ferrocast_live::lane::Viewer`]): its own task until it has caught up, then, without a
//! merge window, its hub's fan-out lane ([`outlet`]).

mod outlet;

use std::sync::Arc;

use ferrocast_base::{PlaybackId, PlaybackPolicy};
use ferrocast_live::lane::{Ending, Service, Viewer};
use ferrocast_live::{Cursor, Egress, Frame, Hub, Subscription, ViewerLimits};
use ferrocast_rtmp::{Connection, RtmpError};
use tokio::time::timeout;

use crate::{OriginConfig, OriginDeps, metrics};
use outlet::{LANES, RtmpOutlet};

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
    connection: Box<Connection>,
    request: PlayRequest<'_>,
    config: &OriginConfig,
    deps: &OriginDeps,
    limits: ViewerLimits,
) -> Result<(), RtmpError> {
    // Boxed: the play runs for as long as the player watches, and should not hold the room
    // its start took.
    let started = Box::pin(start(connection, request, config, deps, limits)).await?;
    let Some((mut viewer, cursor, start)) = started else {
        return Ok(());
    };
    match viewer.run(cursor, start).await {
        Ok(Ending::Stopped) => tracing::info!("player stopped"),
        Ok(Ending::StreamEnded) => {
            tracing::info!("stream ended; play complete");
            return viewer.outlet.player.complete().await;
        }
        Ok(Ending::Cut) => tracing::info!("player cut: cannot keep up"),
        Err(error) if hung_up(&error) => tracing::info!("player hung up"),
        Err(error) => return Err(error),
    }
    Ok(())
}

/// Finds the stream and accepts the play: the viewer, its cursor and start frames; `None`
/// when the play was refused (and told so).
async fn start(
    mut connection: Box<Connection>,
    request: PlayRequest<'_>,
    config: &OriginConfig,
    deps: &OriginDeps,
    limits: ViewerLimits,
) -> Result<Option<(Box<Viewer<RtmpOutlet>>, Cursor, Vec<Frame>)>, RtmpError> {
    let (hub, subscription) = match find(&request, config, deps).await {
        Ok(found) => found,
        Err(refusal) => {
            tracing::info!(reason = refusal.reason, "play refused");
            connection
                .reject_play(request.stream_id, refusal.code, refusal.description)
                .await?;
            return Ok(None);
        }
    };
    let player = connection
        .accept_play(request.request_id, request.stream_id)
        .await?;
    tracing::info!(start_frames = subscription.start.len(), "play started");
    let max_lag = limits.max_lag;
    let (cursor, start) = Cursor::new(hub, subscription, limits, metrics::rtmp_frames_dropped);
    let service = Service {
        lanes: Some(LANES.clone()),
        merge_window: config.rtmp.play_merge_window,
        max_lag,
        count_dropped: metrics::rtmp_frames_dropped,
        egress: Egress::new(metrics::rtmp_egress()),
    };
    // Boxed, so that the play's task holds one viewer, not the room of each place it moved.
    let viewer = Box::new(Viewer::new(RtmpOutlet::new(player), service));
    Ok(Some((viewer, cursor, start)))
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
