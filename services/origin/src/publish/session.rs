//! One accepted publish: feeds the live hub, the HLS packager and the CMAF packager
//! ([`LowLatency`]: the part log) and hands segments to the uploader. However it ends (a
//! finish, an error after its start, a dropped future), the end runs once: the last segments
//! are queued and the wind-up ([`Ending`]) starts.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrocast_control_client::PublishGrant;
use ferrocast_live::{Claim, Frame, FrameKind, FrameRole, Hub};
use ferrocast_media::MediaError;
use ferrocast_media::flv::{self, AudioPacket, VideoPacket};
use ferrocast_media::hls::{Packager, PackagerConfig, Segment};
use ferrocast_media::timestamp::{Normalizer, Track};
use ferrocast_rtmp::Metadata;
use ferrocast_store::IndexError;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::ending::Ending;
use crate::metadata::{announces_video, script_body};
use crate::publish::PublishStats;
use crate::publish::low_latency::LowLatency;
use crate::uploader::{Finished, INDEX_TIMEOUT, Outcome, Uploader, Uploads};
use crate::{OriginConfig, OriginDeps};

/// Bound on a segment's bytes: far above 2 s of 1080p60 at 20 Mb/s.
const MAX_SEGMENT_BYTES: usize = 32 * 1024 * 1024;

/// State of one live publish.
pub struct PublishSession {
    grant: PublishGrant,
    deps: OriginDeps,
    hub: Arc<Hub>,
    claim: Claim,
    normalizer: Normalizer,
    packager: Packager,
    low_latency: LowLatency,
    /// Wall-clock Unix ms of normalized time 0, set by the first media frame.
    wall_clock_origin_ms: Option<i64>,
    /// Newest timestamp given to the hub, for metadata sent mid-stream.
    newest_hub_ms: u32,
    uploads: Uploads,
    /// Taken by the end, which runs once.
    ending: Option<Ending>,
    next_seq: u64,
    stats: Arc<PublishStats>,
    ingest_bytes: metrics::Counter,
}

impl PublishSession {
    /// Opens the index session (fencing older epochs), takes over an older session of the
    /// stream on this origin, joins the stream's hub and starts the uploader.
    pub async fn start(
        grant: PublishGrant,
        config: &OriginConfig,
        deps: &OriginDeps,
        metadata: Option<&Metadata>,
        shutdown: &CancellationToken,
    ) -> Result<Self, IndexError> {
        let opening = deps.index.open_session(&grant.stream_id, grant.epoch);
        let start = timeout(INDEX_TIMEOUT, opening)
            .await
            .map_err(|_| IndexError::Unavailable("open_session timed out".into()))??;
        let segments = PackagerConfig {
            target_duration_ms: config.hls.target_duration.as_millis() as u64,
            expect_video: announces_video(metadata),
            max_segment_bytes: MAX_SEGMENT_BYTES,
        };
        let packager = Packager::new(segments);
        let stats = deps.publishing.add(&grant.stream_id, grant.epoch);
        let low_latency = LowLatency::new(
            &grant.stream_id,
            grant.epoch,
            start.next_msn,
            segments,
            config,
            deps.part_logs.clone(),
            deps.publishing.log_writer(&grant.stream_id),
        );
        let (uploads, uploader) = Uploader::new(&grant, start, config, deps, stats.clone());
        let upload_span = tracing::info_span!("uploader", stream_id = %grant.stream_id, epoch = grant.epoch.get());
        let uploader: JoinHandle<Outcome> = tokio::spawn(uploader.run().instrument(upload_span));
        let (hub, claim) = deps.hubs.join(&grant.stream_id);
        let ending = Ending {
            grant: grant.clone(),
            deps: deps.clone(),
            hub: (hub.clone(), claim),
            uploader,
            drain_deadline: config.hls.buffer_max_age,
            window: config.reconnect_window,
            shutdown: shutdown.clone(),
            log: low_latency.ending(),
            log_linger: log_linger(config),
        };
        let session = Self {
            hub,
            claim,
            stats,
            ingest_bytes: metrics::counter!(crate::metrics::INGEST_BYTES),
            grant,
            deps: deps.clone(),
            normalizer: Normalizer::new(),
            packager,
            low_latency,
            wall_clock_origin_ms: None,
            newest_hub_ms: claim.timestamp_offset_ms,
            uploads,
            ending: Some(ending),
            next_seq: 0,
        };
        if let Some(metadata) = metadata {
            session.to_hub(Frame::script(session.newest_hub_ms, &script_body(metadata)));
        }
        Ok(session)
    }

    /// Cancelled when a newer session of the stream on this origin took this one over.
    pub fn taken_over(&self) -> CancellationToken {
        self.stats.taken_over().clone()
    }

    /// New `onMetaData` from the publisher.
    pub fn on_metadata(&mut self, metadata: &Metadata) {
        self.to_hub(Frame::script(self.newest_hub_ms, &script_body(metadata)));
    }

    /// An FLV video tag body: parsed once, here, for the hub's flags and the packager.
    pub fn on_video(&mut self, raw_timestamp_ms: u32, body: &[u8]) {
        self.count_ingest(body.len());
        let dts = self.normalize(Track::Video, raw_timestamp_ms);
        let Ok(tag) = flv::parse_video(body) else {
            tracing::debug!(len = body.len(), "malformed video tag dropped");
            return;
        };
        let role = if tag.packet == VideoPacket::SequenceHeader {
            FrameRole::SequenceHeader
        } else if tag.is_keyframe() {
            FrameRole::Keyframe
        } else {
            FrameRole::Media
        };
        let at = self.hub_timestamp(dts);
        self.to_hub(Frame::with_role(FrameKind::Video, role, at, body));
        // CMAF objects before the TS segment they go with: a recorded segment's listing
        // waits for them (ADR 24), and they are queued by then.
        let objects = self.low_latency.on_video(dts, &tag);
        self.uploads.push_cmaf(objects);
        let packaged = self.packager.push_video(dts, &tag);
        self.on_packaged(packaged);
    }

    /// An FLV audio tag body: parsed once, here, for the hub's flags and the packager.
    pub fn on_audio(&mut self, raw_timestamp_ms: u32, body: &[u8]) {
        self.count_ingest(body.len());
        let dts = self.normalize(Track::Audio, raw_timestamp_ms);
        let Ok(tag) = flv::parse_audio(body) else {
            tracing::debug!(len = body.len(), "malformed audio tag dropped");
            return;
        };
        let at = self.hub_timestamp(dts);
        let frame = if tag.packet == AudioPacket::SequenceHeader {
            Frame::sequence_header(FrameKind::Audio, at, body)
        } else {
            Frame::audio(at, body)
        };
        self.to_hub(frame);
        let objects = self.low_latency.on_audio(dts, &tag);
        self.uploads.push_cmaf(objects);
        let packaged = self.packager.push_audio(dts, &tag);
        self.on_packaged(packaged);
    }

    /// The publisher stopped: the last segment is queued and the wind-up starts; viewers stay
    /// for the reconnect window. Never waits for storage.
    pub fn finish(mut self) {
        self.end();
    }

    /// Runs once, from [`PublishSession::finish`] or from `drop`.
    fn end(&mut self) {
        let Some(ending) = self.ending.take() else {
            return;
        };
        let objects = self.low_latency.finish();
        self.uploads.push_cmaf(objects);
        if let Some(last) = self.packager.finish() {
            self.enqueue(last);
        }
        self.uploads.close();
        self.deps
            .publishing
            .remove(&self.grant.stream_id, self.grant.epoch);
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::error!("publish ended outside the runtime; its lease expires on its own");
            return;
        }
        ending.spawn();
        tracing::info!(epoch = self.grant.epoch.get(), "publish ended");
    }

    /// The hub timestamp of a session-normalized one: continues after an earlier session's.
    fn hub_timestamp(&mut self, dts: u64) -> u32 {
        let at = (dts as u32).saturating_add(self.claim.timestamp_offset_ms);
        self.newest_hub_ms = self.newest_hub_ms.max(at);
        at
    }

    /// Publishes to the hub while no newer session took it.
    fn to_hub(&self, frame: Frame) {
        if !self.hub.is_claimed_by(&self.claim) {
            return;
        }
        self.hub.publish(frame);
    }

    fn count_ingest(&self, bytes: usize) {
        self.stats.add_bytes(bytes);
        self.stats.media_received();
        self.ingest_bytes.increment(bytes as u64);
    }

    fn normalize(&mut self, track: Track, raw_timestamp_ms: u32) -> u64 {
        if self.wall_clock_origin_ms.is_none() {
            let now = unix_millis();
            self.wall_clock_origin_ms = Some(now);
            self.low_latency.begin(now);
        }
        self.normalizer.normalize(track, raw_timestamp_ms)
    }

    fn on_packaged(&mut self, packaged: Result<Option<Segment>, MediaError>) {
        match packaged {
            Ok(Some(segment)) => self.enqueue(segment),
            Ok(None) => {}
            Err(MediaError::Unsupported(codec)) => {
                tracing::warn!(%codec, "track dropped from hls: unsupported codec (http-flv passes it through)");
            }
            Err(error) => tracing::debug!(%error, "frame not packaged"),
        }
    }

    fn enqueue(&mut self, segment: Segment) {
        let origin_ms = self.wall_clock_origin_ms.unwrap_or_else(unix_millis);
        let finished = Finished {
            seq: self.next_seq,
            program_date_time_ms: origin_ms + segment.start_dts_ms as i64,
            duration_ms: segment.duration_ms,
            data: segment.data,
        };
        self.next_seq += 1;
        self.uploads.push(finished);
    }
}

impl Drop for PublishSession {
    /// The guard: a session that started always ends, whatever failed after its start.
    fn drop(&mut self) {
        self.end();
    }
}

/// How long a stream's part log stays after its last session ended: its window and, for a
/// segment that just left it, the RFC 8216 §6.2.2 margin (the window again).
fn log_linger(config: &OriginConfig) -> Duration {
    Duration::from_millis(config.hls.log_config().window_ms.saturating_mul(2))
}

/// Now, Unix milliseconds.
pub(crate) fn unix_millis() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_millis() as i64
}
