//! One viewer's place in a fan-out lane: its socket, written without waiting, and the
//! ordered backlog of shared [`Bytes`] that its own task drains when the socket is full.
//!
//! While a backlog is not empty the lane only appends to it, so bytes never go out of order.
//! A backlog spanning more than `max_lag` of media means the viewer cannot keep up: it keeps
//! only a batch it has begun to send (so no message is cut) and leaves the lane
//! ([`Leave::FellBehind`]); its task then serves it alone under the slow-viewer policy, which
//! skips it to the next keyframe and cuts it if it keeps falling behind.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::Delivery;

/// Most buffers in one vectored write.
const MAX_SLICES: usize = 64;

/// A viewer's socket, written without waiting.
pub trait Sink: Send + Sync {
    /// Writes what the socket takes now of `buffers`, in order; `WouldBlock` when nothing.
    /// The viewer's task calls this before it waits for the socket to become writable, so a
    /// `WouldBlock` must arm that wait.
    fn try_write(&self, buffers: &[IoSlice<'_>]) -> io::Result<usize>;

    /// The same write from the lane, which never waits on the socket: it may skip the
    /// runtime's readiness bookkeeping.
    fn write_now(&self, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
        self.try_write(buffers)
    }

    /// Reads what [`Sink::write_now`] will read first, so that it is in the cache by then.
    fn warm(&self) {}
}

/// send(2) or sendmsg(2) rather than writev(2): socket writes that skip the file layer (its
/// position lock and change notification), and for one buffer the copy of an I/O vector,
/// measurably cheaper when every seat of a lane is written for every frame.
fn send(stream: &TcpStream, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
    let socket = SockRef::from(stream);
    match buffers {
        [one] => socket.send_with_flags(one, libc::MSG_NOSIGNAL),
        _ => socket.send_vectored_with_flags(buffers, libc::MSG_NOSIGNAL),
    }
}

impl Sink for TcpStream {
    fn try_write(&self, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, || send(self, buffers))
    }

    /// Straight to the socket. Tokio's readiness is only a hint: the lane's `WouldBlock`
    /// leaves it stale, so the viewer's first drain tries once more, through
    /// [`Sink::try_write`], which clears it before the wait. Skipping it spares the lane a
    /// cache miss per seat (the socket's readiness lives in its own allocation).
    fn write_now(&self, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
        send(self, buffers)
    }

    fn warm(&self) {
        std::hint::black_box(self.as_fd().as_raw_fd());
    }
}

impl<T: Sink> Sink for Arc<T> {
    fn try_write(&self, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
        (**self).try_write(buffers)
    }

    fn write_now(&self, buffers: &[IoSlice<'_>]) -> io::Result<usize> {
        (**self).write_now(buffers)
    }

    fn warm(&self) {
        (**self).warm();
    }
}

/// What the lane did with a delivery for one seat, and how many bytes went out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Written whole (or nothing was new to this seat).
    Sent(usize),
    /// Partly written or not at all; the rest is queued for the viewer's task.
    Queued(usize),
    /// The seat has left the lane.
    Gone,
}

/// How far [`Seat::drain`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// The socket is full: wait until it is writable and drain again.
    Full,
    /// The backlog is empty; `Some` when the seat has left the lane (nothing more comes).
    Empty(Option<Leave>),
}

/// Why a seat left its lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Its backlog passed `max_lag`, or the ring overran the lane: serve it alone from here,
    /// from the next keyframe.
    FellBehind,
    /// The stream ended: send what is queued, then end the play.
    StreamEnded,
    /// A write failed.
    Broken,
    /// The viewer's task stopped riding the lane.
    Stopped,
}

struct Queued {
    bytes: Bytes,
    media_ms: u32,
    frames: u32,
}

#[derive(Default)]
struct SeatState {
    backlog: VecDeque<Queued>,
    /// The front of the backlog is the rest of a batch already partly written.
    front_started: bool,
    /// Batches numbered up to this one were sent before the seat joined.
    skip_through: u64,
    left: Option<Leave>,
}

/// One viewer's place in a lane.
pub struct Seat<S> {
    sink: S,
    max_lag: Duration,
    /// Adds to the viewer kind's counter of frames dropped for being late.
    count_dropped: fn(u64),
    state: Mutex<SeatState>,
    backlogged: Notify,
}

impl<S: Sink> Seat<S> {
    /// A seat writing to `sink`; a backlog spanning more than `max_lag` of media makes it
    /// leave the lane.
    pub fn new(sink: S, max_lag: Duration, count_dropped: fn(u64)) -> Arc<Self> {
        Arc::new(Self {
            sink,
            max_lag,
            count_dropped,
            state: Mutex::new(SeatState::default()),
            backlogged: Notify::new(),
        })
    }

    /// Reads the memory [`Seat::offer`] will use first (called by the lane ahead of it).
    pub(super) fn warm(&self) {
        // The lock word's line: the offer's first access.
        std::hint::black_box(self.state.is_poisoned());
        self.sink.warm();
    }

    /// Offers consecutive batches (called by the lane).
    pub(super) fn offer(&self, delivery: &Delivery) -> Offer {
        let mut state = self.lock();
        if state.left.is_some() {
            return Offer::Gone;
        }
        let skip_through = state.skip_through;
        let fresh = delivery
            .pieces
            .iter()
            .filter(move |piece| piece.sequence > skip_through);
        if !state.backlog.is_empty() {
            for piece in fresh {
                if !self.append(
                    &mut state,
                    piece.bytes.clone(),
                    piece.media_ms,
                    piece.frames,
                ) {
                    return Offer::Gone;
                }
            }
            return Offer::Queued(0);
        }
        // On the stack: this runs for every seat of every delivery.
        let mut storage = [IoSlice::new(&[]); MAX_SLICES];
        let (mut count, mut total) = (0, 0);
        for (slot, piece) in storage.iter_mut().zip(fresh.clone()) {
            *slot = IoSlice::new(&piece.bytes);
            count += 1;
            total += piece.bytes.len();
        }
        if count == 0 {
            return Offer::Sent(0);
        }
        let whole = fresh.clone().nth(count).is_none();
        let sent = match self.sink.write_now(&storage[..count]) {
            Ok(sent) if sent == total && whole => return Offer::Sent(sent),
            Ok(sent) => sent,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
            Err(_) => {
                self.leave(&mut state, Leave::Broken);
                return Offer::Gone;
            }
        };
        let mut skip = sent;
        for piece in fresh {
            if skip >= piece.bytes.len() {
                skip -= piece.bytes.len();
                continue;
            }
            state.front_started |= skip > 0;
            let rest = piece.bytes.slice(skip..);
            skip = 0;
            if !self.append(&mut state, rest, piece.media_ms, piece.frames) {
                return Offer::Gone;
            }
        }
        self.backlogged.notify_one();
        Offer::Queued(sent)
    }

    /// Sets the last batch the viewer sent itself before joining.
    pub(super) fn sent_through(&self, sequence: u64) {
        self.lock().skip_through = sequence;
    }

    /// Makes the seat leave the lane (called by the lane), unless it already left.
    pub(super) fn remove(&self, why: Leave) {
        let mut state = self.lock();
        if state.left.is_none() {
            if why == Leave::FellBehind {
                self.drop_unbegun(&mut state);
            }
            self.leave(&mut state, why);
        }
    }

    /// Leaves the lane for good (the viewer's task stops riding it): the lane forgets the
    /// seat, and with it the socket, at its next delivery.
    pub fn leave_now(&self) {
        self.remove(Leave::Stopped);
    }

    /// Queues whole messages after what is queued (control replies) for the viewer's task.
    pub fn send_between_messages(&self, bytes: Bytes) {
        let mut state = self.lock();
        let media_ms = state.backlog.back().map_or(0, |queued| queued.media_ms);
        state.backlog.push_back(Queued {
            bytes,
            media_ms,
            frames: 0,
        });
        self.backlogged.notify_one();
    }

    /// Waits until the seat has a backlog to drain or has left the lane.
    pub async fn backlogged(&self) {
        self.backlogged.notified().await;
    }

    /// Writes the backlog while the socket takes it, and says how far it got and how many
    /// bytes it wrote. A viewer whose seat left the lane may write again itself once this
    /// says so: a batch begun is then finished.
    pub fn drain(&self) -> io::Result<(Drained, usize)> {
        let mut state = self.lock();
        if state.left == Some(Leave::Broken) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut written = 0;
        while !state.backlog.is_empty() {
            let slices: Vec<IoSlice<'_>> = state
                .backlog
                .iter()
                .take(MAX_SLICES)
                .map(|queued| IoSlice::new(&queued.bytes))
                .collect();
            let result = self.sink.try_write(&slices);
            drop(slices);
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(sent) => {
                    advance(&mut state, sent);
                    written += sent;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((Drained::Full, written));
                }
                Err(error) => {
                    self.leave(&mut state, Leave::Broken);
                    return Err(error);
                }
            }
        }
        Ok((Drained::Empty(state.left), written))
    }

    /// Why the seat left the lane, if it did.
    pub fn left(&self) -> Option<Leave> {
        self.lock().left
    }

    /// Appends to the backlog; once it spans more than `max_lag` of media the seat leaves
    /// the lane instead (`false`).
    fn append(&self, state: &mut SeatState, bytes: Bytes, media_ms: u32, frames: u32) -> bool {
        let oldest = state
            .backlog
            .front()
            .map_or(media_ms, |queued| queued.media_ms);
        let lag = Duration::from_millis(u64::from(media_ms.saturating_sub(oldest)));
        if lag > self.max_lag {
            (self.count_dropped)(u64::from(frames));
            self.drop_unbegun(state);
            self.leave(state, Leave::FellBehind);
            return false;
        }
        state.backlog.push_back(Queued {
            bytes,
            media_ms,
            frames,
        });
        true
    }

    /// Drops every queued batch but one already begun (counting their frames).
    fn drop_unbegun(&self, state: &mut SeatState) {
        let keep = usize::from(state.front_started);
        let dropped: u32 = state.backlog.iter().skip(keep).map(|q| q.frames).sum();
        (self.count_dropped)(u64::from(dropped));
        state.backlog.truncate(keep);
    }

    fn leave(&self, state: &mut SeatState, why: Leave) {
        state.left = Some(why);
        self.backlogged.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, SeatState> {
        ferrocast_base::lock(&self.state)
    }
}

/// Drops `sent` bytes from the front of the backlog.
fn advance(state: &mut SeatState, mut sent: usize) {
    while sent > 0 {
        let Some(front) = state.backlog.front_mut() else {
            return;
        };
        if sent < front.bytes.len() {
            let _ = front.bytes.split_to(sent);
            state.front_started = true;
            return;
        }
        sent -= front.bytes.len();
        state.backlog.pop_front();
        state.front_started = false;
    }
}
