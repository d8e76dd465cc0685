//! A fan-out lane (ADR 25, proposed): one writer per hub for the viewers that keep up.
//!
//! Today every viewer is a task that the ring wakes for every batch, which then writes its
//! socket. A lane instead writes each batch to every caught-up viewer's socket itself,
//! without waiting ([`Sink::try_write`]): no per-viewer wake-up, no per-viewer ring receiver.
//! A socket that does not take a batch whole puts the viewer in its [`Seat`]'s backlog (the
//! rest of that batch, then every later batch as shared [`Bytes`], in order), and wakes the
//! viewer's own task, which waits for the socket and drains it ([`Seat::drain`]). While a
//! backlog is not empty the lane only appends to it, so bytes never go out of order.
//!
//! A backlog is bounded as a viewer's lag is today ([`ViewerLimits`]): once the media it
//! holds spans more than `max_lag`, the viewer skips to the next keyframe (only a batch it
//! has begun to send is kept, so no message is cut), and a viewer that skips more than
//! `max_skips` times in `skip_window` is cut.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::ViewerLimits;

/// Most buffers in one vectored write.
const MAX_SLICES: usize = 64;

/// A viewer's socket, written without waiting.
pub trait Sink: Send + Sync {
    /// Writes what the socket takes now of `buffers`, in order; `WouldBlock` when nothing.
    fn try_write(&self, buffers: &[IoSlice<'_>]) -> io::Result<usize>;
}

/// What the lane did with a batch for one seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Written whole.
    Sent,
    /// Queued: the viewer's task drains it.
    Queued,
    /// Not sent: the viewer waits for a keyframe.
    Skipped,
    /// The viewer is cut (it kept falling behind) or its socket failed: it leaves the lane.
    Gone,
}

/// One batch as the lane hands it out.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The serialized batch (FLV tags or RTMP chunks), shared by every viewer.
    pub bytes: Bytes,
    /// Media time of its first frame, milliseconds.
    pub media_ms: u32,
    /// Whether a decoder can start at it.
    pub starts_with_keyframe: bool,
}

struct Queued {
    bytes: Bytes,
    media_ms: u32,
}

#[derive(Default)]
struct SeatState {
    backlog: VecDeque<Queued>,
    /// The front of the backlog is the rest of a batch already partly written.
    front_started: bool,
    waiting_for_keyframe: bool,
    skips: VecDeque<Instant>,
    gone: bool,
}

/// One viewer's place in a lane.
pub struct Seat<S> {
    sink: S,
    limits: ViewerLimits,
    state: Mutex<SeatState>,
    backlogged: Notify,
}

impl<S: Sink> Seat<S> {
    /// A seat for `sink`; `wait_for_keyframe` for a viewer whose start held none.
    pub fn new(sink: S, limits: ViewerLimits, wait_for_keyframe: bool) -> Arc<Self> {
        let state = SeatState {
            waiting_for_keyframe: wait_for_keyframe,
            ..SeatState::default()
        };
        Arc::new(Self {
            sink,
            limits,
            state: Mutex::new(state),
            backlogged: Notify::new(),
        })
    }

    /// Offers one batch (called by the lane).
    pub fn offer(&self, delivery: &Delivery, now: Instant) -> Offer {
        let mut state = self.lock();
        if state.gone {
            return Offer::Gone;
        }
        if state.waiting_for_keyframe {
            if !delivery.starts_with_keyframe {
                return Offer::Skipped;
            }
            state.waiting_for_keyframe = false;
        }
        if !state.backlog.is_empty() {
            return self.append(&mut state, delivery, now);
        }
        match self.sink.try_write(&[IoSlice::new(&delivery.bytes)]) {
            Ok(sent) if sent == delivery.bytes.len() => Offer::Sent,
            Ok(sent) => {
                state.front_started = sent > 0;
                state.backlog.push_back(Queued {
                    bytes: delivery.bytes.slice(sent..),
                    media_ms: delivery.media_ms,
                });
                self.backlogged.notify_one();
                Offer::Queued
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                state.backlog.push_back(Queued {
                    bytes: delivery.bytes.clone(),
                    media_ms: delivery.media_ms,
                });
                self.backlogged.notify_one();
                Offer::Queued
            }
            Err(_) => {
                state.gone = true;
                self.backlogged.notify_one();
                Offer::Gone
            }
        }
    }

    /// Queues whole messages after what is queued (control replies), or writes them now.
    pub fn send_between_messages(&self, bytes: Bytes) {
        let mut state = self.lock();
        let media_ms = state.backlog.back().map_or(0, |queued| queued.media_ms);
        state.backlog.push_back(Queued { bytes, media_ms });
        self.backlogged.notify_one();
    }

    /// Waits until the seat has a backlog to drain (or is gone).
    pub async fn backlogged(&self) {
        self.backlogged.notified().await;
    }

    /// Writes the backlog while the socket takes it: `Ok(true)` once it is empty (the lane
    /// writes directly again), `Ok(false)` when the socket is full (wait until writable).
    pub fn drain(&self) -> io::Result<bool> {
        let mut state = self.lock();
        if state.gone {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        while !state.backlog.is_empty() {
            let slices: Vec<IoSlice<'_>> = state
                .backlog
                .iter()
                .take(MAX_SLICES)
                .map(|queued| IoSlice::new(&queued.bytes))
                .collect();
            let written = self.sink.try_write(&slices);
            drop(slices);
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(sent) => advance(&mut state, sent),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) => {
                    state.gone = true;
                    return Err(error);
                }
            }
        }
        Ok(true)
    }

    /// Whether the seat left the lane (cut, or its socket failed).
    pub fn is_gone(&self) -> bool {
        self.lock().gone
    }

    /// Appends to a backlog, skipping to the next keyframe once it lags by `max_lag`.
    fn append(&self, state: &mut SeatState, delivery: &Delivery, now: Instant) -> Offer {
        let oldest = state
            .backlog
            .front()
            .map_or(delivery.media_ms, |q| q.media_ms);
        let lag = Duration::from_millis(u64::from(delivery.media_ms.wrapping_sub(oldest)));
        if lag <= self.limits.max_lag {
            state.backlog.push_back(Queued {
                bytes: delivery.bytes.clone(),
                media_ms: delivery.media_ms,
            });
            return Offer::Queued;
        }
        // Fell behind: keep only a batch already begun, then wait for a keyframe.
        let keep = usize::from(state.front_started);
        state.backlog.truncate(keep);
        if let Some(begun) = state.backlog.front_mut() {
            // Lag counts from the skip now, not from the begun batch's media time.
            begun.media_ms = delivery.media_ms;
        }
        state.waiting_for_keyframe = true;
        let window = self.limits.skip_window;
        state
            .skips
            .retain(|at| now.saturating_duration_since(*at) < window);
        state.skips.push_back(now);
        if state.skips.len() > self.limits.max_skips {
            state.gone = true;
            self.backlogged.notify_one();
            return Offer::Gone;
        }
        Offer::Skipped
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

/// The seats of one hub's caught-up viewers.
pub struct Lane<S> {
    seats: Mutex<Vec<Arc<Seat<S>>>>,
}

impl<S: Sink> Default for Lane<S> {
    fn default() -> Self {
        Self {
            seats: Mutex::new(Vec::new()),
        }
    }
}

impl<S: Sink> Lane<S> {
    /// Adds a seat, once its viewer's start frames are written.
    pub fn join(&self, seat: Arc<Seat<S>>) {
        ferrocast_base::lock(&self.seats).push(seat);
    }

    /// Offers a batch to every seat; forgets the gone ones. Returns how many remain.
    pub fn deliver(&self, delivery: &Delivery) -> usize {
        let now = Instant::now();
        let mut seats = ferrocast_base::lock(&self.seats);
        seats.retain(|seat| seat.offer(delivery, now) != Offer::Gone);
        seats.len()
    }
}

#[cfg(test)]
#[path = "lane_tests.rs"]
mod tests;
