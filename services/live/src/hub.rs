//! The per-stream fan-out point: a bounded broadcast ring plus the state a new viewer needs
//! (metadata, codec configurations, the GOP since the last keyframe).
//!
//! The ring is shared by every viewer, so a viewer costs a cursor, not a queue: memory per
//! stream is bounded by `ring_batches` and `max_gop_bytes`, whatever the number of viewers.
//! The ring carries [`Batch`]es: audio waits for the next video frame, at most
//! [`AUDIO_HOLD_MS`] of media, so viewers are woken once per video frame.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use ferrocast_base::lock;
use tokio::sync::broadcast;

use crate::{Batch, Frame, FrameKind, GateVerdict, LiveReceiver, ResumeGate, ViewerLimits};

/// How much media time of audio may wait for the next video frame to share its batch. A
/// 30 fps stream sends video every 33 ms; this delays audio only, which players buffer anyway,
/// and an audio-only stream goes out in pairs of AAC frames.
pub const AUDIO_HOLD_MS: u32 = 40;

/// Bounds for one hub.
#[derive(Debug, Clone)]
pub struct HubLimits {
    /// Batches kept in the broadcast ring (about one per video frame); a viewer further behind
    /// than this has lagged.
    pub ring_batches: usize,
    /// Bytes of GOP cache; a longer GOP is not cached (viewers then wait for a keyframe).
    pub max_gop_bytes: usize,
}

impl HubLimits {
    /// Limits whose ring holds half as much again as `max_lag` of a 60 fps stream (a batch is
    /// about one video frame with its audio): a viewer is skipped by the time-based check
    /// (`max_lag`) before the ring can overrun it, and the ring keeps no more than that.
    /// 256 to 4096 batches; 450 for the default 5 s (15 s of a 30 fps stream).
    pub fn holding(max_lag: Duration) -> Self {
        let batches = (max_lag.as_secs_f64() * 60.0 * 1.5).ceil() as usize;
        Self {
            ring_batches: batches.clamp(256, 4096),
            max_gop_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Default for HubLimits {
    fn default() -> Self {
        Self::holding(ViewerLimits::default().max_lag)
    }
}

/// What a new viewer receives: the frames to send first, then the live receiver.
pub struct Subscription {
    /// Metadata, codec configurations and the cached GOP, in order.
    pub start: Vec<Frame>,
    /// Live frames published after `start` was taken.
    pub live: LiveReceiver,
    /// The number of the last batch published before `live`'s first ([`Batch::sequence`]).
    pub through: u64,
}

/// A publish session's hold on a hub: the hub outlives the session for the origin's
/// reconnect window, and a later session of the same stream continues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// How many sessions have fed the hub, this one included: the hub is this session's
    /// while no later session claimed it.
    pub number: u64,
    /// Added to the session's normalized timestamps so that they continue after the hub's
    /// newest frame (0 for the first session).
    pub timestamp_offset_ms: u32,
}

/// Serial numbers of hubs: no two hubs of a process share one.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// The fan-out point of one live stream.
pub struct Hub {
    limits: HubLimits,
    serial: u64,
    state: Mutex<State>,
    claims: AtomicU64,
    newest_timestamp_ms: AtomicU32,
    has_video: AtomicBool,
    has_audio: AtomicBool,
    /// Viewers served by fan-out lanes (they hold no ring receiver of their own), less the
    /// lanes' own receivers: added to the receivers to count viewers.
    lane_adjustment: AtomicIsize,
}

#[derive(Default)]
struct State {
    /// `None` once the stream has ended; dropping it ends every receiver.
    sender: Option<broadcast::Sender<Batch>>,
    /// The number of the last batch sent.
    sequence: u64,
    /// Frames waiting to go out as one batch (only audio waits; the frame that ends the wait
    /// joins it); not yet in the ring nor the GOP cache.
    held: Vec<Frame>,
    metadata: Option<Frame>,
    video_config: Option<Frame>,
    audio_config: Option<Frame>,
    gop: Vec<Frame>,
    gop_bytes: usize,
    gop_overflowed: bool,
    /// Newest audio or video timestamp published, where a later session continues.
    newest_media_ms: Option<u32>,
    /// Closed when a new session takes over a stream with video: its media waits for its
    /// first video keyframe, so viewers switch at a point their decoder can start from.
    resume: ResumeGate,
}

impl Hub {
    /// Creates a live hub.
    pub fn new(limits: HubLimits) -> Self {
        let (sender, _) = broadcast::channel(limits.ring_batches.max(1));
        let state = State {
            sender: Some(sender),
            ..State::default()
        };
        Self {
            limits,
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(state),
            claims: AtomicU64::new(0),
            newest_timestamp_ms: AtomicU32::new(0),
            has_video: AtomicBool::new(false),
            has_audio: AtomicBool::new(false),
            lane_adjustment: AtomicIsize::new(0),
        }
    }

    /// Publishes a frame to every viewer and updates the start state for new viewers; audio
    /// may wait for the next frame (see [`AUDIO_HOLD_MS`]).
    pub fn publish(&self, frame: Frame) {
        self.newest_timestamp_ms
            .store(frame.timestamp_ms, Ordering::Relaxed);
        match frame.kind {
            FrameKind::Video => self.has_video.store(true, Ordering::Relaxed),
            FrameKind::Audio => self.has_audio.store(true, Ordering::Relaxed),
            FrameKind::Script => {}
        }
        let mut state = lock(&self.state);
        if state.sender.is_none() {
            return;
        }
        if state.resume.admit(&frame, self.has_video()) == GateVerdict::Skip {
            return;
        }
        if frame.kind != FrameKind::Script && !frame.config {
            state.newest_media_ms = Some(frame.timestamp_ms);
        }
        let hold = frame.kind == FrameKind::Audio
            && !frame.config
            && state.held.first().is_none_or(|first| {
                frame.timestamp_ms.saturating_sub(first.timestamp_ms) < AUDIO_HOLD_MS
            });
        state.held.push(frame);
        if !hold {
            state.flush(&self.limits);
        }
    }

    /// Subscribes a viewer; `None` once the stream has ended.
    pub fn subscribe(&self) -> Option<Subscription> {
        self.subscribe_with(State::start_frames)
    }

    /// Subscribes a viewer that already played this stream and skipped ahead: its start is
    /// the metadata and codec configurations only (their newest), not the GOP it has seen
    /// part of. `None` once the stream has ended.
    pub fn resubscribe(&self) -> Option<Subscription> {
        self.subscribe_with(State::headers)
    }

    fn subscribe_with(&self, start: fn(&State) -> Vec<Frame>) -> Option<Subscription> {
        // Taking the snapshot and the receiver under one lock is what makes the hand-over
        // from cached frames to live frames gap-free and duplicate-free.
        let state = lock(&self.state);
        let live = LiveReceiver::new(state.sender.as_ref()?.subscribe());
        Some(Subscription {
            start: start(&state),
            live,
            through: state.sequence,
        })
    }

    /// A publish session takes the hub over: `None` once the hub has ended. A session after
    /// the first continues the same viewers: the old GOP is no longer offered to new viewers
    /// (it does not match the new codec configurations), media waits for the new session's
    /// first keyframe (when the stream carried video), and its timestamps continue after the
    /// newest frame.
    pub fn claim(&self) -> Option<Claim> {
        let mut state = lock(&self.state);
        state.sender.as_ref()?;
        state.flush(&self.limits);
        let number = self.claims.fetch_add(1, Ordering::AcqRel) + 1;
        let Some(newest) = state.newest_media_ms else {
            return Some(Claim {
                number,
                timestamp_offset_ms: 0,
            });
        };
        state.gop.clear();
        state.gop_bytes = 0;
        state.gop_overflowed = false;
        if self.has_video() {
            state.resume.close(0);
        }
        Some(Claim {
            number,
            timestamp_offset_ms: newest.saturating_add(1),
        })
    }

    /// This hub's serial number, unique in the process: with a frame's timestamp (which
    /// never goes back within a hub) it names that frame, e.g. to cache what was made of it.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Whether the session holding `claim` is still the hub's newest.
    pub fn is_claimed_by(&self, claim: &Claim) -> bool {
        self.claims.load(Ordering::Acquire) == claim.number
    }

    /// Ends the stream: viewers drain what is queued, held audio included, then see the end.
    pub fn end(&self) {
        let mut state = lock(&self.state);
        state.flush(&self.limits);
        state.sender = None;
    }

    /// Whether [`Hub::end`] was called.
    pub fn is_ended(&self) -> bool {
        lock(&self.state).sender.is_none()
    }

    /// Timestamp of the newest published frame, to tell how far behind a viewer is.
    pub fn newest_timestamp_ms(&self) -> u32 {
        self.newest_timestamp_ms.load(Ordering::Relaxed)
    }

    /// Whether the stream has carried video; without it any audio frame is a resume point.
    pub fn has_video(&self) -> bool {
        self.has_video.load(Ordering::Relaxed)
    }

    /// Whether the stream has carried audio.
    pub fn has_audio(&self) -> bool {
        self.has_audio.load(Ordering::Relaxed)
    }

    /// Number of subscribed viewers, those a fan-out lane serves included.
    pub fn viewer_count(&self) -> usize {
        let receivers = lock(&self.state)
            .sender
            .as_ref()
            .map_or(0, broadcast::Sender::receiver_count);
        let adjustment = self.lane_adjustment.load(Ordering::Relaxed);
        receivers.saturating_add_signed(adjustment)
    }

    /// Counts `change` more viewers than the ring has receivers: a lane's seats (+) and its
    /// own receiver (-).
    pub(crate) fn adjust_viewer_count(&self, change: isize) {
        self.lane_adjustment.fetch_add(change, Ordering::Relaxed);
    }
}

impl State {
    /// Sends the held frames as one batch, remembering them for new viewers.
    fn flush(&mut self, limits: &HubLimits) {
        if self.held.is_empty() {
            return;
        }
        let frames = std::mem::take(&mut self.held);
        for frame in &frames {
            self.remember(frame, limits);
        }
        self.sequence += 1;
        if let Some(sender) = &self.sender {
            // An error only means nobody is watching right now.
            let _ = sender.send(Batch::numbered(frames, self.sequence));
        }
    }

    fn remember(&mut self, frame: &Frame, limits: &HubLimits) {
        if frame.kind == FrameKind::Script {
            self.metadata = Some(frame.clone());
            return;
        }
        if frame.config {
            match frame.kind {
                FrameKind::Video => self.video_config = Some(frame.clone()),
                _ => self.audio_config = Some(frame.clone()),
            }
            return;
        }
        if frame.keyframe {
            self.gop.clear();
            self.gop_bytes = 0;
            self.gop_overflowed = false;
        } else if self.gop.is_empty() || self.gop_overflowed {
            return;
        }
        self.gop_bytes += frame.tag.len();
        if self.gop_bytes > limits.max_gop_bytes {
            self.gop.clear();
            self.gop_bytes = 0;
            self.gop_overflowed = true;
            return;
        }
        self.gop.push(frame.clone());
    }

    fn start_frames(&self) -> Vec<Frame> {
        let mut start = self.headers();
        start.extend(self.gop.iter().cloned());
        start
    }

    /// The newest metadata and codec configurations, in that order.
    fn headers(&self) -> Vec<Frame> {
        let headers = [&self.metadata, &self.video_config, &self.audio_config];
        headers.into_iter().flatten().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(ts: u32, keyframe: bool) -> Frame {
        let body = [0x17, 1, 0, 0, 0];
        if keyframe {
            Frame::keyframe(ts, &body)
        } else {
            Frame::video(ts, &body)
        }
    }

    #[test]
    fn new_viewer_starts_at_last_keyframe_with_configs_first() {
        let hub = Hub::new(HubLimits::default());
        hub.publish(Frame::script(0, b"meta"));
        hub.publish(Frame::sequence_header(FrameKind::Video, 0, &[0x17, 0]));
        hub.publish(video(0, true));
        hub.publish(video(33, false));
        hub.publish(video(66, true));
        hub.publish(video(100, false));
        let subscription = hub.subscribe().unwrap();
        let kinds: Vec<(bool, u32)> = subscription
            .start
            .iter()
            .map(|f| (f.config, f.timestamp_ms))
            .collect();
        assert_eq!(
            kinds,
            vec![(false, 0), (true, 0), (false, 66), (false, 100)]
        );
    }

    #[tokio::test]
    async fn live_frames_follow_the_snapshot_without_gap_and_end_closes() {
        let hub = Hub::new(HubLimits::default());
        hub.publish(video(0, true));
        let mut subscription = hub.subscribe().unwrap();
        hub.publish(video(33, false));
        hub.end();
        assert_eq!(subscription.start.len(), 1);
        assert_eq!(subscription.live.recv().await.unwrap().timestamp_ms, 33);
        assert!(subscription.live.recv().await.is_err());
        assert!(hub.subscribe().is_none());
    }

    fn audio(ts: u32) -> Frame {
        Frame::audio(ts, &[0xAF, 1, ts as u8])
    }

    fn batch_timestamps(live: &mut LiveReceiver) -> Vec<Vec<u32>> {
        let mut batches = Vec::new();
        while let Ok(batch) = live.try_recv_batch() {
            batches.push(batch.frames().iter().map(|f| f.timestamp_ms).collect());
        }
        batches
    }

    #[test]
    fn audio_waits_for_the_next_video_frame_or_the_hold_limit() {
        let hub = Hub::new(HubLimits::default());
        let mut live = hub.subscribe().unwrap().live;
        hub.publish(video(0, true));
        hub.publish(audio(5));
        hub.publish(audio(26));
        // Held audio is neither sent nor cached for new viewers yet.
        assert_eq!(hub.subscribe().unwrap().start.len(), 1);
        hub.publish(video(33, false));
        hub.publish(audio(40));
        hub.publish(audio(61));
        hub.publish(audio(82));
        hub.end();
        assert_eq!(
            batch_timestamps(&mut live),
            vec![vec![0], vec![5, 26, 33], vec![40, 61, 82]]
        );
    }

    #[test]
    fn end_sends_the_held_audio() {
        let hub = Hub::new(HubLimits::default());
        let mut live = hub.subscribe().unwrap().live;
        hub.publish(audio(0));
        hub.end();
        assert_eq!(batch_timestamps(&mut live), vec![vec![0]]);
    }

    #[test]
    fn every_hub_has_its_own_serial() {
        let (first, second) = (
            Hub::new(HubLimits::default()),
            Hub::new(HubLimits::default()),
        );
        assert_ne!(first.serial(), second.serial());
    }

    #[test]
    fn oversized_gop_is_not_cached() {
        let limits = HubLimits {
            ring_batches: 8,
            max_gop_bytes: 40,
        };
        let hub = Hub::new(limits);
        hub.publish(video(0, true));
        hub.publish(video(33, false));
        hub.publish(video(66, false));
        assert!(hub.subscribe().unwrap().start.is_empty());
        hub.publish(video(99, true));
        assert_eq!(hub.subscribe().unwrap().start.len(), 1);
    }

    #[test]
    fn the_ring_holds_max_lag_of_a_60_fps_stream_and_half_again_within_bounds() {
        let batches = |secs| HubLimits::holding(Duration::from_secs(secs)).ring_batches;
        // 5 s at 60 batches a second is 300: the ring keeps 450, 15 s of a 30 fps stream.
        assert_eq!(batches(5), 450);
        assert_eq!(HubLimits::default().ring_batches, 450);
        assert_eq!(batches(1), 256);
        assert_eq!(batches(600), 4096);
    }

    #[test]
    fn a_second_claim_continues_after_the_newest_frame_from_a_keyframe() {
        let hub = Hub::new(HubLimits::default());
        let first = hub.claim().unwrap();
        assert_eq!(first.timestamp_offset_ms, 0);
        let mut live = hub.subscribe().unwrap().live;
        hub.publish(video(0, true));
        hub.publish(video(33, false));
        let second = hub.claim().unwrap();
        assert_eq!((second.number, second.timestamp_offset_ms), (2, 34));
        assert!(hub.is_claimed_by(&second) && !hub.is_claimed_by(&first));
        // The old GOP is gone for new viewers; the new session's media before its first
        // keyframe is held back, its configuration is not.
        assert!(hub.subscribe().unwrap().start.is_empty());
        hub.publish(Frame::sequence_header(FrameKind::Video, 34, &[0x17, 0]));
        hub.publish(video(34, false));
        hub.publish(audio(40));
        hub.publish(video(67, true));
        hub.end();
        let mut seen = Vec::new();
        while let Ok(batch) = live.try_recv_batch() {
            seen.extend(batch.frames().iter().map(|f| (f.timestamp_ms, f.config)));
        }
        assert_eq!(seen, vec![(0, false), (33, false), (34, true), (67, false)]);
        assert!(hub.claim().is_none());
    }
}
