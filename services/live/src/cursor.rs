//! One viewer's cursor into a hub, shared by HTTP-FLV viewers and RTMP players: the start
//! frames first, then the ring's batches through the [`ViewerPolicy`]. Viewers differ only in
//! how they serialize what the cursor hands them (FLV tags or RTMP chunks) and how they write.
//!
//! A cursor is not a queue: it holds the ring position, the policy and nothing else. A viewer
//! that falls behind skips to the next resume point, and is cut if it keeps falling behind.
//! One whose start frames hold no keyframe (the stream has just begun, or its GOP was too
//! long to cache) waits for the next one, so that it never starts decoding mid-GOP.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::{
    Batch, BatchVerdict, Frame, Hub, LiveEdge, LiveReceiver, Subscription, Verdict, ViewerLimits,
    ViewerPolicy,
};

/// What a viewer does next.
#[derive(Debug)]
pub enum Step {
    /// Send the whole batch: its shared serializations will do.
    Batch(Batch),
    /// Send these frames only; the others were dropped (and counted).
    Frames(Vec<Frame>),
    /// Nothing to send: every frame was lost to a full ring or dropped while the viewer
    /// waits for the next resume point (and counted).
    Skipped,
    /// The stream has ended and every batch was received.
    Ended,
    /// The viewer cannot keep up: end it.
    Cut,
}

/// One viewer's position in a hub's stream.
pub struct Cursor {
    hub: Arc<Hub>,
    live: LiveReceiver,
    policy: ViewerPolicy,
    /// Adds to the viewer kind's counter of frames dropped for being late.
    count_dropped: fn(u64),
    /// The number of the last batch taken from the ring (or before the first): `None` after
    /// the ring overran the viewer, until the next batch.
    through: Option<u64>,
}

impl Cursor {
    /// A cursor over `subscription` of `hub`, and the frames to send before any step
    /// (metadata, codec configurations, the cached GOP). `count_dropped` is called with the
    /// number of frames each skip drops.
    pub fn new(
        hub: Arc<Hub>,
        subscription: Subscription,
        limits: ViewerLimits,
        count_dropped: fn(u64),
    ) -> (Self, Vec<Frame>) {
        let mut policy = ViewerPolicy::new(limits);
        if !subscription.start.iter().any(|frame| frame.keyframe) {
            policy.wait_for_keyframe();
        }
        Self::with_policy(hub, subscription, policy, count_dropped)
    }

    /// A cursor for a viewer that already played `hub` and fell behind while a fan-out lane
    /// served it: its policy counts that as a skip, and it restarts at the next keyframe after
    /// the newest codec configurations. [`Step::Cut`] when it fell behind too often,
    /// [`Step::Ended`] when the stream has ended.
    pub fn after_falling_behind(
        hub: Arc<Hub>,
        mut policy: ViewerPolicy,
        count_dropped: fn(u64),
    ) -> Result<(Self, Vec<Frame>), Step> {
        if policy.overrun(Instant::now()) == Verdict::Cut {
            return Err(Step::Cut);
        }
        let subscription = hub.resubscribe().ok_or(Step::Ended)?;
        Ok(Self::with_policy(hub, subscription, policy, count_dropped))
    }

    fn with_policy(
        hub: Arc<Hub>,
        subscription: Subscription,
        policy: ViewerPolicy,
        count_dropped: fn(u64),
    ) -> (Self, Vec<Frame>) {
        let Subscription {
            start,
            live,
            through,
        } = subscription;
        let cursor = Self {
            hub,
            live,
            policy,
            count_dropped,
            through: Some(through),
        };
        (cursor, start)
    }

    /// The number of the last batch taken, when the viewer is caught up: nothing waits in
    /// the ring for it and it is not waiting for a keyframe. A fan-out lane can take over
    /// such a viewer from the next batch on.
    pub fn caught_up_through(&self) -> Option<u64> {
        if self.policy.is_waiting() || !self.live.is_empty() {
            return None;
        }
        self.through
    }

    /// The slow-viewer policy, for a viewer that a fan-out lane takes over.
    pub fn into_policy(self) -> ViewerPolicy {
        self.policy
    }

    /// The hub the cursor reads.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Waits for the next step. Cancel-safe: nothing is taken from the ring until a batch is
    /// there, and judging it does not wait.
    pub async fn next(&mut self) -> Step {
        let received = self.live.recv_batch().await;
        self.judge(received, Instant::now())
    }

    /// The next step if a batch is already waiting in the ring, else `None`.
    pub fn next_ready(&mut self) -> Option<Step> {
        let received = match self.live.try_recv_batch() {
            Ok(batch) => Ok(batch),
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
        Some(self.judge(received, Instant::now()))
    }

    fn judge(&mut self, received: Result<Batch, RecvError>, now: Instant) -> Step {
        let batch = match received {
            Ok(batch) => batch,
            Err(RecvError::Lagged(missed)) => {
                self.through = None;
                tracing::debug!(missed, "viewer fell off the ring");
                (self.count_dropped)(missed);
                return match self.policy.overrun(now) {
                    Verdict::Cut => Step::Cut,
                    Verdict::Send | Verdict::Drop => Step::Skipped,
                };
            }
            Err(RecvError::Closed) => return Step::Ended,
        };
        self.through = Some(batch.sequence());
        let live = LiveEdge {
            newest_timestamp_ms: self.hub.newest_timestamp_ms(),
            has_video: self.hub.has_video(),
        };
        match self.policy.judge_batch(&batch, live, now) {
            BatchVerdict::All => Step::Batch(batch),
            BatchVerdict::Part { send, dropped } => {
                (self.count_dropped)(dropped);
                if send.is_empty() {
                    Step::Skipped
                } else {
                    Step::Frames(send)
                }
            }
            BatchVerdict::Cut => Step::Cut,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::{FrameKind, HubLimits};

    static DROPPED: AtomicU64 = AtomicU64::new(0);

    fn count(frames: u64) {
        DROPPED.fetch_add(frames, Ordering::Relaxed);
    }

    const BODY: [u8; 2] = [0x17, 1];

    #[tokio::test]
    async fn a_viewer_without_a_cached_keyframe_starts_at_the_next_one() {
        let hub = Arc::new(Hub::new(HubLimits::default()));
        hub.publish(Frame::sequence_header(FrameKind::Video, 0, &[0x17, 0]));
        let subscription = hub.subscribe().expect("the hub is live");
        let (mut cursor, start) =
            Cursor::new(hub.clone(), subscription, ViewerLimits::default(), count);
        assert_eq!(start.len(), 1);
        hub.publish(Frame::video(33, &BODY));
        hub.publish(Frame::keyframe(66, &BODY));
        hub.end();
        let before = DROPPED.load(Ordering::Relaxed);
        assert!(matches!(cursor.next().await, Step::Skipped));
        let Step::Batch(batch) = cursor.next().await else {
            panic!("the keyframe passes whole");
        };
        assert_eq!(batch.frames()[0].timestamp_ms, 66);
        assert!(DROPPED.load(Ordering::Relaxed) > before);
        assert!(matches!(cursor.next().await, Step::Ended));
        assert!(
            cursor
                .next_ready()
                .is_some_and(|step| matches!(step, Step::Ended))
        );
    }

    #[tokio::test]
    async fn a_viewer_overrun_by_the_ring_skips_then_is_cut() {
        let limits = HubLimits {
            ring_batches: 2,
            max_gop_bytes: 1024,
        };
        let hub = Arc::new(Hub::new(limits));
        hub.publish(Frame::keyframe(0, &BODY));
        let subscription = hub.subscribe().expect("the hub is live");
        let viewer_limits = ViewerLimits {
            max_skips: 1,
            ..ViewerLimits::default()
        };
        let (mut cursor, start) = Cursor::new(hub.clone(), subscription, viewer_limits, count);
        assert_eq!(start.len(), 1);
        assert!(cursor.next_ready().is_none());
        for ts in 1..=4 {
            hub.publish(Frame::video(ts * 33, &BODY));
        }
        assert!(matches!(cursor.next().await, Step::Skipped));
        for ts in 5..=8 {
            hub.publish(Frame::video(ts * 33, &BODY));
        }
        hub.end();
        // Frames after a skip wait for a keyframe; the ring overruns the viewer again.
        let mut step = cursor.next().await;
        while let Step::Skipped = step {
            step = cursor.next().await;
        }
        assert!(matches!(step, Step::Cut), "{step:?}");
    }
}
