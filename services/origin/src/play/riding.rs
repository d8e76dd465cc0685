//! A caught-up RTMP player rides its hub's fan-out lane (ADR 25): the lane's task writes
//! every batch to the player's socket, and the player's own task only wakes to read what the
//! player sends, to queue its replies between messages, and to drain what the socket did not
//! take. A player that falls behind by `max_lag` leaves the lane and is served by its own task
//! again, from the next keyframe, under the slow-viewer policy.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use ferrocast_live::lane::{Drained, Lanes, Leave, Seat};
use ferrocast_live::{Batch, Cursor, Frame, Step};
use ferrocast_rtmp::RtmpError;
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::viewer::{Next, Viewer};
use crate::metrics;

type PlayerSeat = Seat<Arc<TcpStream>>;

/// The lanes of RTMP players, by hub. One per process: hub serials are unique in it.
static LANES: LazyLock<Arc<Lanes<Arc<TcpStream>>>> =
    LazyLock::new(|| Lanes::new(shared_chunks, metrics::rtmp_egress));

fn shared_chunks(batch: &Batch) -> Bytes {
    batch.rtmp_chunks().clone()
}

/// How a ride ended.
pub(super) enum Ride {
    /// The player did not join (the lane is ahead of it, or the stream ended): it goes on
    /// with its cursor.
    Declined(Cursor),
    /// The player fell behind: it goes on alone with a new cursor, after these start frames.
    FellBehind(Cursor, Vec<Frame>),
    /// The play is over.
    Done(Next),
}

/// Puts a player that has caught up with `cursor` in its hub's lane, until it leaves.
pub(super) async fn ride(viewer: &mut Viewer, cursor: Cursor) -> Result<Ride, RtmpError> {
    let Some(through) = cursor.caught_up_through() else {
        return Ok(Ride::Declined(cursor));
    };
    let hub = cursor.hub().clone();
    let Some(lane) = LANES.lane(&hub) else {
        return Ok(Ride::Declined(cursor));
    };
    let socket = viewer.player.socket().clone();
    let seat = Seat::new(socket, viewer.max_lag, metrics::rtmp_frames_dropped);
    if !lane.join(seat.clone(), through) {
        return Ok(Ride::Declined(cursor));
    }
    let policy = cursor.into_policy();
    let _in_lane = metrics::PLAYERS_IN_LANES.enter();
    let riding = Riding(seat);
    let left = in_lane(viewer, &riding.0).await?;
    drop(riding);
    let next = match left {
        None => Next::Stopped,
        Some(Leave::StreamEnded) => Next::StreamEnded,
        Some(Leave::Broken | Leave::Stopped) => {
            return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
        }
        Some(Leave::FellBehind) => {
            tracing::debug!("player fell behind its lane");
            return Ok(
                match Cursor::after_falling_behind(hub, policy, metrics::rtmp_frames_dropped) {
                    Ok((cursor, start)) => Ride::FellBehind(cursor, start),
                    Err(Step::Ended) => Ride::Done(Next::StreamEnded),
                    Err(_) => Ride::Done(Next::Cut),
                },
            );
        }
    };
    Ok(Ride::Done(next))
}

/// A seat that leaves its lane when the player's task stops riding, however it stops: the
/// lane then drops its handle on the socket.
struct Riding(Arc<PlayerSeat>);

impl Drop for Riding {
    fn drop(&mut self) {
        self.0.leave_now();
    }
}

/// Serves the player's side of a ride: `None` when the player stopped, else why its seat
/// left the lane, once everything queued for it is sent.
async fn in_lane(viewer: &mut Viewer, seat: &PlayerSeat) -> Result<Option<Leave>, RtmpError> {
    loop {
        loop {
            let (drained, written) = seat.drain()?;
            viewer.egress.sent(written);
            match drained {
                Drained::Empty(None) => break,
                Drained::Empty(Some(left)) => return Ok(Some(left)),
                Drained::Full => {
                    let deadline = viewer.player.write_timeout();
                    timeout(deadline, viewer.player.socket().writable())
                        .await
                        .map_err(|_| RtmpError::WriteTimeout(deadline))??;
                }
            }
        }
        tokio::select! {
            biased;
            playing = viewer.player.receive() => {
                if !playing? {
                    return Ok(None);
                }
                let replies = viewer.player.take_replies();
                if !replies.is_empty() {
                    seat.send_between_messages(replies.into());
                }
            }
            () = seat.backlogged() => {}
        }
    }
}
