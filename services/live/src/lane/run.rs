//! The lanes of a kind of viewer (RTMP players, HTTP-FLV viewers), one per hub, each run by
//! a task that reads the hub's ring and hands every batch to [`Lane::deliver`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::{Delivery, Lane, Leave, Piece, Sink};
use crate::{Batch, Egress, Hub, LiveReceiver};

/// Most batches taken from the ring for one delivery.
const MAX_PIECES: usize = 32;

/// The lanes of one kind of viewer, by hub.
pub struct Lanes<S> {
    lanes: Mutex<HashMap<u64, Arc<Lane<S>>>>,
    /// A batch as this kind of viewer receives it.
    serialize: fn(&Batch) -> Bytes,
    /// The kind's egress counter.
    egress: fn() -> metrics::Counter,
}

impl<S: Sink + 'static> Lanes<S> {
    /// Lanes that send batches as `serialize` makes them, counting bytes in `egress`.
    pub fn new(serialize: fn(&Batch) -> Bytes, egress: fn() -> metrics::Counter) -> Arc<Self> {
        Arc::new(Self {
            lanes: Mutex::new(HashMap::new()),
            serialize,
            egress,
        })
    }

    /// The lane of `hub`, started on first use; `None` once the stream has ended. Call it
    /// within a Tokio runtime.
    pub fn lane(self: &Arc<Self>, hub: &Arc<Hub>) -> Option<Arc<Lane<S>>> {
        let mut lanes = ferrocast_base::lock(&self.lanes);
        if let Some(lane) = lanes.get(&hub.serial()) {
            return Some(lane.clone());
        }
        let subscription = hub.subscribe()?;
        // The lane's receiver is no viewer: its seats are.
        hub.adjust_viewer_count(-1);
        let lane = Arc::new(Lane::new(hub.clone(), subscription.through));
        lanes.insert(hub.serial(), lane.clone());
        let run = Run {
            lanes: self.clone(),
            serial: hub.serial(),
            lane: lane.clone(),
            live: subscription.live,
            egress: Egress::new((self.egress)()),
        };
        tokio::spawn(run.until_the_stream_ends());
        Some(lane)
    }
}

/// One lane's task.
struct Run<S> {
    lanes: Arc<Lanes<S>>,
    serial: u64,
    lane: Arc<Lane<S>>,
    live: LiveReceiver,
    egress: Egress,
}

impl<S: Sink + 'static> Run<S> {
    async fn until_the_stream_ends(mut self) {
        loop {
            let first = self.live.recv_batch().await;
            let mut delivery = Delivery::default();
            let mut outcome = self.add(&mut delivery, first);
            while outcome.is_ok() && delivery.pieces.len() < MAX_PIECES {
                let received = match self.live.try_recv_batch() {
                    Err(TryRecvError::Empty) => break,
                    Ok(batch) => Ok(batch),
                    Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
                    Err(TryRecvError::Closed) => Err(RecvError::Closed),
                };
                outcome = self.add(&mut delivery, received);
            }
            if !delivery.pieces.is_empty() {
                let written = self.lane.deliver(&delivery);
                self.egress.sent(written);
            }
            match outcome {
                Ok(()) => {}
                Err(RecvError::Lagged(missed)) => {
                    // Batches are lost to every seat: each goes on alone from a keyframe.
                    tracing::warn!(missed, "the ring overran a fan-out lane");
                    self.lane.empty(Leave::FellBehind);
                }
                Err(RecvError::Closed) => break,
            }
        }
        self.lane.empty(Leave::StreamEnded);
        self.lane.hub.adjust_viewer_count(1);
        let mut lanes = ferrocast_base::lock(&self.lanes.lanes);
        if lanes
            .get(&self.serial)
            .is_some_and(|lane| Arc::ptr_eq(lane, &self.lane))
        {
            lanes.remove(&self.serial);
        }
    }

    fn add(
        &self,
        delivery: &mut Delivery,
        received: Result<Batch, RecvError>,
    ) -> Result<(), RecvError> {
        let batch = received?;
        let Some(first) = batch.frames().first() else {
            return Ok(());
        };
        delivery.pieces.push(Piece {
            sequence: batch.sequence(),
            bytes: (self.lanes.serialize)(&batch),
            media_ms: first.timestamp_ms,
            frames: batch.frames().len() as u32,
        });
        Ok(())
    }
}
