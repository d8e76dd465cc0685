//! Twins for the uploader tests: an object store and an index that fail on demand, a
//! control stand-in that records lease releases (`control.rs`), and a synthetic H.264 publisher.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::Epoch;
use ferrocast_control_client::PublishGrant;
use ferrocast_live::{Hubs, PartLogs};
use ferrocast_origin::publish::PublishSession;
use ferrocast_origin::{BufferBudget, OriginConfig, OriginDeps, Publishing};
use ferrocast_store::{IndexState, MemoryIndex, RetryPolicy, ScriptedIndex, SegmentStore};
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub mod control;

pub use control::{OneStreamControl, stream_id};

/// An in-memory object store whose PUTs can be held, like a server stopped with SIGSTOP: a
/// held PUT lands when the store resumes, whether or not its caller still waits. It can also
/// refuse every CMAF object (`.m4s`, `.mp4`) while taking the TS segments.
#[derive(Debug)]
pub struct HaltableStore {
    inner: Arc<InMemory>,
    running: watch::Sender<bool>,
    refusing_cmaf: AtomicBool,
}

impl HaltableStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(InMemory::new()),
            running: watch::Sender::new(true),
            refusing_cmaf: AtomicBool::new(false),
        })
    }

    /// From now on, every PUT of a CMAF object fails.
    pub fn refuse_cmaf(&self) {
        self.refusing_cmaf.store(true, Ordering::Relaxed);
    }

    pub fn halt(&self) {
        self.running.send_replace(false);
    }

    pub fn resume(&self) {
        self.running.send_replace(true);
    }
}

impl fmt::Display for HaltableStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HaltableStore")
    }
}

#[async_trait]
impl ObjectStore for HaltableStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let cmaf = location
            .extension()
            .is_some_and(|ext| ext == "m4s" || ext == "mp4");
        if cmaf && self.refusing_cmaf.load(Ordering::Relaxed) {
            return Err(object_store::Error::Generic {
                store: "HaltableStore",
                source: "cmaf objects refused".into(),
            });
        }
        let (inner, location) = (self.inner.clone(), location.clone());
        let mut running = self.running.subscribe();
        let landing = tokio::spawn(async move {
            let _ = running.wait_for(|running| *running).await;
            inner.put_opts(&location, payload, opts).await
        });
        landing.await.expect("the put task does not panic")
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// An origin's dependencies over the twins.
pub struct Harness {
    pub index: Arc<ScriptedIndex>,
    pub objects: Arc<HaltableStore>,
    pub store: SegmentStore,
    pub control: Arc<OneStreamControl>,
    pub deps: OriginDeps,
    pub config: OriginConfig,
    pub shutdown: CancellationToken,
}

impl Harness {
    pub fn new(config: OriginConfig) -> Self {
        let index = Arc::new(ScriptedIndex::over(Arc::new(MemoryIndex::new())));
        let objects = HaltableStore::new();
        // Short tries, so that an outage makes PUTs fail and the uploader's own retries run.
        let retry = RetryPolicy {
            attempts: 2,
            attempt_timeout: Duration::from_secs(2),
            first_backoff: Duration::from_millis(200),
        };
        let store = SegmentStore::new(objects.clone(), "live", retry);
        let control = Arc::new(OneStreamControl::default());
        let deps = OriginDeps {
            authorizer: control.clone(),
            directory: control.clone(),
            index: index.clone(),
            store: store.clone(),
            hubs: Arc::new(Hubs::default()),
            publishing: Arc::new(Publishing::default()),
            buffers: Arc::new(BufferBudget::new(config.hls.buffer_bytes_total)),
            part_logs: Arc::new(PartLogs::new(config.hls.log_config())),
        };
        Self {
            index,
            objects,
            store,
            control,
            deps,
            config,
            shutdown: CancellationToken::new(),
        }
    }

    pub async fn start(&self, epoch: u64) -> PublishSession {
        self.start_recorded(epoch, None).await
    }

    /// A session granted `recording` (ADR 21).
    pub async fn start_recorded(
        &self,
        epoch: u64,
        recording: Option<ferrocast_control_client::RecordingGrant>,
    ) -> PublishSession {
        let grant = PublishGrant {
            stream_id: stream_id(),
            playback_id: "pb".into(),
            epoch: Epoch(epoch),
            recording,
        };
        PublishSession::start(grant, &self.config, &self.deps, None, &self.shutdown)
            .await
            .expect("the index is up when a session starts")
    }

    /// Waits for every ended session's wind-up (drain, release, reconnect window).
    pub async fn wound_up(&self) {
        let endings = self.deps.publishing.endings();
        endings.close();
        endings.wait().await;
        endings.reopen();
    }

    pub async fn state(&self) -> IndexState {
        self.index
            .inner()
            .load(&stream_id())
            .await
            .unwrap()
            .unwrap()
    }

    /// Whether every listed record's object is in the store (objects named by seq = msn
    /// while the record carries no seq).
    pub async fn missing_objects(&self) -> Vec<u64> {
        let mut missing = Vec::new();
        for record in self.state().await.segments {
            if self
                .store
                .get(&stream_id(), record.epoch, record.msn.get())
                .await
                .is_err()
            {
                missing.push(record.msn.get());
            }
        }
        missing
    }
}

/// Synthetic 30 fps H.264: a sequence header, then 2 s GOPs whose frames are `frame_bytes`.
pub struct Encoder {
    frames: u32,
    frame_bytes: usize,
}

pub const GOP: Duration = Duration::from_secs(2);

impl Encoder {
    pub fn new(frame_bytes: usize) -> Self {
        Self {
            frames: 0,
            frame_bytes,
        }
    }

    pub fn configure(&self, session: &mut PublishSession) {
        let mut header = vec![
            0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 4, 0x67, 0x64, 0, 0x1F,
        ];
        header.extend_from_slice(&[1, 0, 3, 0x68, 0xEE, 0x3C]);
        session.on_video(self.dts_ms(), &header);
    }

    /// One GOP of frames, then the wall clock moves on by its duration.
    pub async fn gop(&mut self, session: &mut PublishSession) {
        for frame in 0..60 {
            session.on_video(self.dts_ms(), &self.frame(frame == 0));
            self.frames += 1;
        }
        tokio::time::sleep(GOP).await;
    }

    /// 30 frames per second, in whole milliseconds.
    fn dts_ms(&self) -> u32 {
        self.frames * 1_000 / 30
    }

    fn frame(&self, keyframe: bool) -> Vec<u8> {
        let nal_header = if keyframe { 0x65 } else { 0x41 };
        let mut body = vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        body.extend_from_slice(&((self.frame_bytes + 1) as u32).to_be_bytes());
        body.push(nal_header);
        body.extend((0..self.frame_bytes).map(|i| (i % 251) as u8 | 1));
        body
    }
}

/// Asserts the listed msns are contiguous; returns the msns that start a discontinuity.
pub fn discontinuities(state: &IndexState) -> Vec<u64> {
    let msns: Vec<u64> = state.segments.iter().map(|s| s.msn.get()).collect();
    let first = msns.first().copied().unwrap_or_default();
    let contiguous: Vec<u64> = (first..first + msns.len() as u64).collect();
    assert_eq!(msns, contiguous, "listed msns have a hole");
    let flagged = state.segments.iter().filter(|s| s.discontinuity);
    flagged.map(|s| s.msn.get()).collect()
}
