//! An edge served by its real `run` on a loopback listener, the twins behind it, and
//! synthetic frames for the hub.
//!
//! Every call the tests make into the library's stream-id APIs (the directory, the index,
//! the store, the hubs) is in this file, so a change of their types is made here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ferrocast_base::{Epoch, Msn, PlaybackId, PlaybackPolicy, StreamId};
use ferrocast_control_client::{ClientError, DirectoryError, PlaybackStream, StreamDirectory};
use ferrocast_edge::parts::LocalParts;
use ferrocast_edge::{EdgeConfig, EdgeDeps};
use ferrocast_live::{Frame, FrameKind, Hub, Hubs, LogChannel, PartLogs};
use ferrocast_store::{
    BackendError, IndexChange, IndexError, IndexState, MemoryIndex, RecordingPolicy, RetryPolicy,
    SegmentCache, SegmentIndex, SegmentRecord, SegmentStore, SessionStart,
};
use object_store::memory::InMemory;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// The one stream the directory knows.
pub const STREAM_ID: &str = "stream-1";
/// Its playback id.
pub const PLAYBACK_ID: &str = "pb-1";
/// The one stream's id, typed.
pub fn stream_id() -> StreamId {
    StreamId::new(STREAM_ID)
}

/// The epoch its segments were written under, which is also its playlist's generation.
pub const EPOCH: Epoch = Epoch(1);
/// Longest wait for any answer of the edge: reaching it means the answer never came.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The directory of one stream: [`PLAYBACK_ID`] is [`STREAM_ID`], nothing else exists.
pub struct OneStream;

#[async_trait]
impl StreamDirectory for OneStream {
    async fn resolve_playback(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<StreamId>, DirectoryError> {
        Ok((playback_id.as_str() == PLAYBACK_ID).then(stream_id))
    }
}

/// The directory of one stream with a DVR window: [`PLAYBACK_ID`] is [`STREAM_ID`], public,
/// its live playlist reaching back the given time.
pub struct DvrStream(pub Duration);

#[async_trait]
impl StreamDirectory for DvrStream {
    async fn resolve_playback(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<StreamId>, DirectoryError> {
        Ok((playback_id.as_str() == PLAYBACK_ID).then(stream_id))
    }

    async fn resolve_stream(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<PlaybackStream>, DirectoryError> {
        Ok(
            (playback_id.as_str() == PLAYBACK_ID).then(|| PlaybackStream {
                stream_id: stream_id(),
                policy: PlaybackPolicy::Public,
                dvr_window: self.0,
            }),
        )
    }
}

/// A directory and an index that cannot be reached: every call fails.
pub struct Unreachable;

fn index_down() -> IndexError {
    IndexError::Unavailable(BackendError::from("unreachable twin"))
}

#[async_trait]
impl StreamDirectory for Unreachable {
    async fn resolve_playback(&self, _: &PlaybackId) -> Result<Option<StreamId>, DirectoryError> {
        let timed_out = ClientError::Timeout(Duration::from_secs(1));
        Err(DirectoryError::Unavailable(timed_out))
    }
}

#[async_trait]
impl SegmentIndex for Unreachable {
    async fn open_session(&self, _: &StreamId, _: Epoch) -> Result<SessionStart, IndexError> {
        Err(index_down())
    }
    async fn append_recorded(
        &self,
        _: &StreamId,
        _: SegmentRecord,
        _: usize,
        _: Option<ferrocast_store::RecordingPolicy>,
    ) -> Result<Vec<SegmentRecord>, IndexError> {
        Err(index_down())
    }
    async fn close_session(&self, _: &StreamId, _: Epoch) -> Result<(), IndexError> {
        Err(index_down())
    }
    async fn load(&self, _: &StreamId) -> Result<Option<IndexState>, IndexError> {
        Err(index_down())
    }
    async fn recordings(
        &self,
        _: &StreamId,
    ) -> Result<Vec<ferrocast_store::RecordingSummary>, IndexError> {
        Err(index_down())
    }
    async fn recording(
        &self,
        _: &StreamId,
        _: Epoch,
    ) -> Result<Option<ferrocast_store::Recording>, IndexError> {
        Err(index_down())
    }
    async fn recording_segment(
        &self,
        _: &StreamId,
        _: Epoch,
        _: ferrocast_base::Msn,
    ) -> Result<Option<(ferrocast_store::RecordingSummary, SegmentRecord)>, IndexError> {
        Err(index_down())
    }
    async fn retire_recording(
        &self,
        _: &StreamId,
        _: Epoch,
    ) -> Result<ferrocast_store::Retired, IndexError> {
        Err(index_down())
    }
    async fn forget_recording(&self, _: &StreamId, _: Epoch) -> Result<bool, IndexError> {
        Err(index_down())
    }
    fn changes(&self) -> broadcast::Receiver<IndexChange> {
        broadcast::channel(1).1
    }
}

/// What an edge reads from; [`Backends::new`] gives the healthy twins.
pub struct Backends {
    /// Playback id → stream id.
    pub directory: Arc<dyn StreamDirectory>,
    /// Segment lists.
    pub index: Arc<dyn SegmentIndex>,
    /// Segment objects.
    pub store: SegmentStore,
    /// The live source, fed by the test.
    pub hubs: Arc<Hubs>,
    /// The part logs, fed by the test.
    pub parts: Arc<PartLogs>,
}

impl Backends {
    /// The directory of one stream, an empty memory index and store, no live stream.
    pub fn new() -> Self {
        let objects = Arc::new(InMemory::new());
        Self {
            directory: Arc::new(OneStream),
            index: Arc::new(MemoryIndex::new()),
            store: SegmentStore::new(objects, "live", RetryPolicy::default()),
            hubs: Arc::new(Hubs::default()),
            parts: Arc::new(PartLogs::default()),
        }
    }

    /// Stores `objects` and lists them as the stream's segments (msn = seq = position),
    /// two seconds each and listed just now, as an origin would have.
    pub async fn list_segments(&self, objects: &[Bytes]) {
        self.index_segments(objects, 100, None).await;
    }

    /// [`Self::list_segments`] for a recorded stream: the live listing trimmed to the newest
    /// `live_window` while the recording keeps every one, up to `max_recorded` segments
    /// (then the recording stops, as at `recordings.max_duration`).
    pub async fn record_segments(&self, objects: &[Bytes], live_window: usize, max_recorded: u64) {
        let policy = RecordingPolicy {
            retention_ms: 3_600_000,
            max_duration_ms: max_recorded * 2000,
        };
        self.index_segments(objects, live_window, Some(policy))
            .await;
    }

    async fn index_segments(
        &self,
        objects: &[Bytes],
        retain: usize,
        recording: Option<RecordingPolicy>,
    ) {
        let stream = stream_id();
        self.index.open_session(&stream, EPOCH).await.unwrap();
        let now_ms = unix_millis();
        let count = objects.len() as i64;
        for (seq, object) in (0u64..).zip(objects) {
            let stored = self.store.put(&stream, EPOCH, seq, object.clone()).await;
            stored.unwrap();
            let record = SegmentRecord {
                msn: Msn(seq),
                epoch: EPOCH,
                seq,
                duration_ms: 2000,
                bytes: object.len() as u64,
                program_date_time_ms: now_ms - (count - seq as i64) * 2000,
                listed_at_ms: now_ms,
                cmaf: Default::default(),
                discontinuity: false,
            };
            let appended = self
                .index
                .append_recorded(&stream, record, retain, recording);
            appended.await.unwrap();
        }
    }

    /// The stream's part log, created empty, as the relay mirror holds it.
    pub fn part_log(&self) -> Arc<LogChannel> {
        self.parts.get_or_create(&stream_id())
    }

    /// Starts the stream's live hub, as ingest does when a publish starts.
    pub fn go_live(&self) -> Arc<Hub> {
        self.hubs.start(&stream_id())
    }
}

fn unix_millis() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap().as_millis() as i64
}

/// A running edge.
pub struct Edge {
    /// Where it serves HTTP.
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    running: Option<JoinHandle<()>>,
}

impl Edge {
    /// Starts `ferrocast_edge::run` with `config` over `backends` on 127.0.0.1.
    pub async fn start(config: EdgeConfig, backends: &Backends) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let deps = EdgeDeps {
            directory: backends.directory.clone(),
            index: backends.index.clone(),
            segments: Arc::new(SegmentCache::new(backends.store.clone(), 1 << 20)),
            live: backends.hubs.clone(),
            home: None,
            parts: Arc::new(LocalParts::new(backends.parts.clone())),
        };
        let shutdown = CancellationToken::new();
        let running = ferrocast_edge::run(config, listener, deps, shutdown.clone());
        Self {
            addr,
            shutdown,
            running: Some(tokio::spawn(running)),
        }
    }

    /// Cancels the shutdown token and waits for `run` to return; panics after `limit`.
    pub async fn stop(&mut self, limit: Duration) {
        self.shutdown.cancel();
        let running = self.running.take().expect("the edge is stopped once");
        let returned = timeout(limit, running).await;
        returned
            .expect("run returns in time")
            .expect("run does not panic");
    }
}

/// Frames published to a hub as ingest would, 30 per second in GOPs of [`GOP_FRAMES`];
/// frame `n`'s video body carries `n`.
pub const GOP_FRAMES: u32 = 30;

/// An AVC sequence header's FLV body (its contents are not read on this path).
pub const AVC_SEQUENCE_HEADER: [u8; 9] = [0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F];
/// An AAC sequence header's FLV body (AAC-LC, 48 kHz, stereo).
pub const AAC_SEQUENCE_HEADER: [u8; 4] = [0xAF, 0, 0x11, 0x90];

/// Media time of frame `n`, milliseconds.
pub fn timestamp_ms(n: u32) -> u32 {
    n * 1000 / 30
}

/// Frame `n`'s FLV video body: a keyframe at each GOP's start.
pub fn video(n: u32) -> Vec<u8> {
    let keyframe = n.is_multiple_of(GOP_FRAMES);
    let flags = if keyframe { 0x17 } else { 0x27 };
    let mut body = vec![flags, 1, 0, 0, 0];
    body.extend_from_slice(&n.to_be_bytes());
    body
}

/// The frame number of a [`video`] body; `None` for a sequence header.
pub fn frame_number(body: &[u8]) -> Option<u32> {
    if body.get(1) != Some(&1) {
        return None;
    }
    Some(u32::from_be_bytes(body.get(5..9)?.try_into().ok()?))
}

/// Publishes the two sequence headers.
pub fn publish_sequence_headers(hub: &Hub) {
    hub.publish(Frame::sequence_header(
        FrameKind::Video,
        0,
        &AVC_SEQUENCE_HEADER,
    ));
    hub.publish(Frame::sequence_header(
        FrameKind::Audio,
        0,
        &AAC_SEQUENCE_HEADER,
    ));
}

/// Publishes frames `frames`: each video frame, then audio at its time.
pub fn publish_frames(hub: &Hub, frames: std::ops::Range<u32>) {
    for n in frames {
        let at = timestamp_ms(n);
        let body = video(n);
        let frame = if n.is_multiple_of(GOP_FRAMES) {
            Frame::keyframe(at, &body)
        } else {
            Frame::video(at, &body)
        };
        hub.publish(frame);
        hub.publish(Frame::audio(at, &[0xAF, 1, 0x21, 0x42]));
    }
}
