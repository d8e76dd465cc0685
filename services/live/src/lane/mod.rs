//! Fan-out lanes (ADR 25): one writer per hub for the viewers that keep up.
//!
//! Without a lane every viewer is a task that the ring wakes for every batch, which then
//! writes its socket: on a loaded server the wake-ups, not the writes, are most of a
//! viewer's cost. A lane is one task per hub that reads the ring once and writes each batch
//! to every caught-up viewer's socket itself, without waiting ([`Sink::write_now`]). Under
//! load it takes every batch waiting in the ring at once, so each viewer gets one vectored
//! write for all of them: batching by load, with no clock and no added latency when idle.
//!
//! A viewer joins once it has sent its start frames and caught up with the ring on its own
//! ([`Lane::join`]); batch numbers ([`crate::Batch::sequence`]) make the hand-over send no
//! batch twice and skip none. A socket that does not take a write whole puts the rest in the
//! viewer's [`Seat`] backlog, which the viewer's task drains; see [`seat`] for falling behind.

mod run;
mod seat;
mod viewer;

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::Hub;

pub use run::Lanes;
pub use seat::{Drained, Leave, Offer, Seat, Sink};
pub use viewer::{Ending, Outlet, Service, Viewer};

/// How many seats [`Lane::deliver`] touches at once before writing them.
const WARM_GROUP: usize = 8;

/// One batch, serialized for a lane's viewers.
#[derive(Debug, Clone)]
pub struct Piece {
    /// The batch's number in its hub.
    pub sequence: u64,
    /// The serialized batch (FLV tags or RTMP chunks), shared by every viewer.
    pub bytes: Bytes,
    /// Media time of its first frame, milliseconds.
    pub media_ms: u32,
    /// How many frames it holds.
    pub frames: u32,
}

/// Consecutive batches, offered to every seat at once.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// In order of their numbers.
    pub pieces: Vec<Piece>,
}

struct Seats<S> {
    list: Vec<Arc<Seat<S>>>,
    /// The number of the last batch delivered.
    delivered_through: u64,
    /// The stream ended: nobody joins any more.
    ended: bool,
}

/// The seats of one hub's caught-up viewers.
pub struct Lane<S> {
    /// The hub, which counts the lane's seats among its viewers.
    hub: Arc<Hub>,
    seats: Mutex<Seats<S>>,
}

impl<S: Sink> Lane<S> {
    /// A lane of `hub` whose first delivery follows batch `through`.
    pub fn new(hub: Arc<Hub>, through: u64) -> Self {
        Self {
            hub,
            seats: Mutex::new(Seats {
                list: Vec::new(),
                delivered_through: through,
                ended: false,
            }),
        }
    }

    /// Adds the seat of a viewer that has sent every batch up to `sent_through` and nothing
    /// of a later one. `false` when the lane has already delivered a batch the viewer has
    /// not sent (it should send that itself and try again) or the stream has ended.
    pub fn join(&self, seat: Arc<Seat<S>>, sent_through: u64) -> bool {
        let mut seats = ferrocast_base::lock(&self.seats);
        if seats.ended || seats.delivered_through > sent_through {
            return false;
        }
        // The lane may be behind the viewer: batches it delivers later that the viewer
        // already sent are skipped for this seat.
        seat.sent_through(sent_through);
        seats.list.push(seat);
        self.hub.adjust_viewer_count(1);
        true
    }

    /// Offers consecutive batches to every seat; forgets the ones that left. Returns the
    /// bytes written now.
    pub fn deliver(&self, delivery: &Delivery) -> usize {
        let mut seats = ferrocast_base::lock(&self.seats);
        let list = &mut seats.list;
        let (mut written, mut kept) = (0, 0);
        for index in 0..list.len() {
            // Every seat is cold by its next delivery: touching a group of them at once
            // overlaps their cache misses, where one at a time they would add up.
            if index % WARM_GROUP == 0 {
                for seat in list.iter().skip(index).take(WARM_GROUP) {
                    seat.warm();
                }
            }
            match list[index].offer(delivery) {
                Offer::Sent(bytes) | Offer::Queued(bytes) => {
                    written += bytes;
                    // Seats that stay keep their order.
                    list.swap(kept, index);
                    kept += 1;
                }
                Offer::Gone => {}
            }
        }
        self.forget(list.len() - kept);
        list.truncate(kept);
        if let Some(last) = delivery.pieces.last() {
            seats.delivered_through = last.sequence;
        }
        written
    }

    /// Empties the lane: every seat leaves for `why`. [`Leave::StreamEnded`] also closes the
    /// lane to new seats; [`Leave::FellBehind`] (the lane lost batches) keeps them out until
    /// the next delivery says where the lane is.
    pub fn empty(&self, why: Leave) {
        let mut seats = ferrocast_base::lock(&self.seats);
        self.forget(seats.list.len());
        for seat in seats.list.drain(..) {
            seat.remove(why);
        }
        match why {
            Leave::StreamEnded => seats.ended = true,
            Leave::FellBehind => seats.delivered_through = u64::MAX,
            Leave::Broken | Leave::Stopped => {}
        }
    }

    /// Stops counting `seats` gone seats among the hub's viewers.
    fn forget(&self, seats: usize) {
        self.hub
            .adjust_viewer_count(-isize::try_from(seats).unwrap_or(isize::MAX));
    }

    /// How many viewers the lane serves.
    pub fn len(&self) -> usize {
        ferrocast_base::lock(&self.seats).list.len()
    }

    /// Whether the lane serves nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
