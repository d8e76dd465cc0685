//! A live viewer's task, whatever its protocol ([`Outlet`]: RTMP play, HTTP-FLV): its start
//! frames, then the ring's batches through its [`Cursor`]; once it has caught up, the hub's
//! fan-out lane writes for it and the task only wakes to read what the viewer sends, queue
//! the replies between messages, and drain what the socket did not take. A viewer that falls
//! `max_lag` behind in the lane finishes its begun batch, leaves, and goes on alone from the
//! next keyframe under the slow-viewer policy (which cuts it if it keeps falling behind).
//!
//! With a merge window the viewer never rides a lane: it wakes every window and writes what
//! arrived since in one vectored write (merged writes, as SRS does by default).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::time::{Interval, MissedTickBehavior, interval, timeout};

use super::{Drained, Lanes, Leave, Seat};
use crate::{Batch, Cursor, Egress, Frame, Step};

/// Messages gathered into one write; a viewer more than this many behind writes in steps.
const MAX_PENDING: usize = 64;

/// A viewer's connection, as its protocol speaks.
pub trait Outlet: Send {
    /// The protocol's errors.
    type Error: From<io::Error> + Send;

    /// A whole batch as this viewer is sent it.
    fn batch_bytes(&self, batch: &Batch) -> Bytes;

    /// One frame as this viewer is sent it.
    fn frame_bytes(&self, frame: &Frame) -> Bytes;

    /// Waits for what the viewer sends next and handles it: `Ok(false)` once it stopped
    /// (closed the connection or its stream). Cancel-safe.
    fn receive(&mut self) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Replies to what the viewer sent, not yet sent (whole messages).
    fn take_replies(&mut self) -> Vec<u8>;

    /// Writes pending replies, then `messages`, whole; fails after `write_timeout` without
    /// progress.
    fn send(&mut self, messages: &[Bytes]) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The socket a lane may write whole messages to while [`Outlet::send`] is not running;
    /// `None` when this viewer's bytes are its own (it never rides a lane).
    fn lane_socket(&self) -> Option<&Arc<TcpStream>>;

    /// How long a write may make no progress.
    fn write_timeout(&self) -> Duration;

    /// The error of a write that made no progress within `write_timeout`.
    fn timed_out(&self) -> Self::Error;

    /// Told when the viewer starts (`true`) and stops riding a lane, for its gauge.
    fn riding(&mut self, riding: bool);
}

/// How a play ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The viewer stopped.
    Stopped,
    /// The stream ended and everything was sent.
    StreamEnded,
    /// The viewer could not keep up.
    Cut,
}

/// How a viewer is served.
pub struct Service {
    /// The lanes it may ride (`None`: never).
    pub lanes: Option<Arc<Lanes<Arc<TcpStream>>>>,
    /// With a window the viewer writes every window, and never rides a lane.
    pub merge_window: Duration,
    /// How much media a lane may queue for it before it falls behind.
    pub max_lag: Duration,
    /// Adds to the viewer kind's counter of frames dropped for being late.
    pub count_dropped: fn(u64),
    /// The viewer kind's egress.
    pub egress: Egress,
}

/// One viewer's task.
pub struct Viewer<O> {
    /// The connection.
    pub outlet: O,
    service: Service,
    /// Serialized media waiting for the next write; at most [`MAX_PENDING`] after the start.
    pending: Vec<Bytes>,
}

/// How a ride ended.
enum Ride {
    /// The viewer did not join (the lane is ahead of it, or the stream ended).
    Declined(Cursor),
    /// The viewer fell behind: it goes on alone with a new cursor, after these start frames.
    FellBehind(Cursor, Vec<Frame>),
    Done(Ending),
}

impl<O: Outlet> Viewer<O> {
    /// A viewer on `outlet`, served as `service` says.
    pub fn new(outlet: O, service: Service) -> Self {
        Self {
            outlet,
            service,
            pending: Vec::with_capacity(MAX_PENDING),
        }
    }

    /// Sends `start`, then what `cursor` hands out, until the play ends.
    pub async fn run(&mut self, mut cursor: Cursor, start: Vec<Frame>) -> Result<Ending, O::Error> {
        self.push_frames(&start);
        drop(start);
        self.flush().await?;
        self.pending.shrink_to(MAX_PENDING);
        let window = self.service.merge_window;
        let mut ticks = (!window.is_zero()).then(|| {
            let mut ticks = interval(window);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        let rides = ticks.is_none() && self.service.lanes.is_some();
        loop {
            // No drain branch here: polling a cancellation token on every wake-up costs more
            // than the rest of it, and a viewer ends with its stream anyway, which the drain
            // closes at its deadline.
            let next = self.wait(&mut cursor, ticks.as_mut()).await?;
            let next = self.take_ready(&mut cursor, next);
            self.flush().await?;
            if let Some(ending) = next {
                return Ok(ending);
            }
            if rides && self.outlet.lane_socket().is_some() {
                match self.ride(cursor).await? {
                    Ride::Declined(back) => cursor = back,
                    Ride::FellBehind(back, start) => {
                        cursor = back;
                        self.push_frames(&start);
                        self.flush().await?;
                    }
                    Ride::Done(ending) => return Ok(ending),
                }
            }
        }
    }

    /// Waits for the next tick of the merge window, or without one for the next step;
    /// `Some` once the play ends.
    async fn wait(
        &mut self,
        cursor: &mut Cursor,
        ticks: Option<&mut Interval>,
    ) -> Result<Option<Ending>, O::Error> {
        let step = tokio::select! {
            biased;
            playing = stopped(&mut self.outlet) => return playing.map(|()| Some(Ending::Stopped)),
            step = next_step(cursor, ticks) => step,
        };
        Ok(step.and_then(|step| self.take(step)))
    }

    /// Adds the steps already waiting in the ring, up to [`MAX_PENDING`] messages.
    fn take_ready(&mut self, cursor: &mut Cursor, mut next: Option<Ending>) -> Option<Ending> {
        while next.is_none() && self.pending.len() < MAX_PENDING {
            let step = cursor.next_ready()?;
            next = self.take(step);
        }
        next
    }

    fn take(&mut self, step: Step) -> Option<Ending> {
        match step {
            Step::Batch(batch) => {
                let bytes = self.outlet.batch_bytes(&batch);
                self.pending.push(bytes);
            }
            Step::Frames(frames) => self.push_frames(&frames),
            Step::Skipped => {}
            Step::Ended => return Some(Ending::StreamEnded),
            Step::Cut => return Some(Ending::Cut),
        }
        None
    }

    fn push_frames(&mut self, frames: &[Frame]) {
        for frame in frames {
            let bytes = self.outlet.frame_bytes(frame);
            self.pending.push(bytes);
        }
    }

    async fn flush(&mut self) -> Result<(), O::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.outlet.send(&self.pending).await?;
        let sent: usize = self.pending.iter().map(Bytes::len).sum();
        self.pending.clear();
        self.service.egress.sent(sent);
        Ok(())
    }

    /// Puts a viewer that has caught up with `cursor` in its hub's lane, until it leaves.
    async fn ride(&mut self, cursor: Cursor) -> Result<Ride, O::Error> {
        let (Some(lanes), Some(socket)) = (&self.service.lanes, self.outlet.lane_socket()) else {
            return Ok(Ride::Declined(cursor));
        };
        let Some(through) = cursor.caught_up_through() else {
            return Ok(Ride::Declined(cursor));
        };
        let hub = cursor.hub().clone();
        let Some(lane) = lanes.lane(&hub) else {
            return Ok(Ride::Declined(cursor));
        };
        let seat = Seat::new(
            socket.clone(),
            self.service.max_lag,
            self.service.count_dropped,
        );
        if !lane.join(seat.clone(), through) {
            return Ok(Ride::Declined(cursor));
        }
        let policy = cursor.into_policy();
        // A rider writes nothing itself: its room for pending messages goes back until it
        // falls behind.
        self.pending = Vec::new();
        self.outlet.riding(true);
        let left = self.in_lane(&seat).await;
        // However the ride ends, the lane lets go of the seat and its socket.
        seat.leave_now();
        self.outlet.riding(false);
        let ending = match left? {
            None => Ending::Stopped,
            Some(Leave::StreamEnded) => Ending::StreamEnded,
            Some(Leave::Broken | Leave::Stopped) => {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe).into());
            }
            Some(Leave::FellBehind) => {
                tracing::debug!("viewer fell behind its lane");
                let count = self.service.count_dropped;
                return Ok(match Cursor::after_falling_behind(hub, policy, count) {
                    Ok((cursor, start)) => Ride::FellBehind(cursor, start),
                    Err(Step::Ended) => Ride::Done(Ending::StreamEnded),
                    Err(_) => Ride::Done(Ending::Cut),
                });
            }
        };
        Ok(Ride::Done(ending))
    }

    /// The viewer's side of a ride: `None` when it stopped, else why its seat left the lane,
    /// once everything queued for it is sent.
    async fn in_lane(&mut self, seat: &Seat<Arc<TcpStream>>) -> Result<Option<Leave>, O::Error> {
        loop {
            loop {
                let (drained, written) = seat.drain()?;
                self.service.egress.sent(written);
                match drained {
                    Drained::Empty(None) => break,
                    Drained::Empty(Some(left)) => return Ok(Some(left)),
                    Drained::Full => self.writable().await?,
                }
            }
            tokio::select! {
                biased;
                playing = self.outlet.receive() => {
                    if !playing? {
                        return Ok(None);
                    }
                    let replies = self.outlet.take_replies();
                    if !replies.is_empty() {
                        seat.send_between_messages(replies.into());
                    }
                }
                () = seat.backlogged() => {}
            }
        }
    }

    /// Waits until the lane socket takes bytes again, at most the write timeout.
    async fn writable(&self) -> Result<(), O::Error> {
        let Some(socket) = self.outlet.lane_socket() else {
            return Ok(());
        };
        match timeout(self.outlet.write_timeout(), socket.writable()).await {
            Ok(ready) => Ok(ready?),
            Err(_) => Err(self.outlet.timed_out()),
        }
    }
}

/// Resolves when the viewer stopped.
async fn stopped<O: Outlet>(outlet: &mut O) -> Result<(), O::Error> {
    while outlet.receive().await? {}
    Ok(())
}

/// The next step, or with a merge window its next tick (`None`).
async fn next_step(cursor: &mut Cursor, ticks: Option<&mut Interval>) -> Option<Step> {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
            None
        }
        None => Some(cursor.next().await),
    }
}
