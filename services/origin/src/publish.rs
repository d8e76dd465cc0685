//! One accepted publish: feeds the live hub and the HLS packager, hands segments to the
//! uploader, and on the end flushes, indexes `ENDLIST` and releases the lease.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrocast_control::PublishGrant;
use ferrocast_live::{Frame, FrameKind, Hub};
use ferrocast_media::MediaError;
use ferrocast_media::flv::{self, VideoPacket};
use ferrocast_media::hls::{Packager, PackagerConfig, Segment};
use ferrocast_media::timestamp::{Normalizer, Track};
use ferrocast_rtmp::StreamMetadata;
use ferrocast_store::IndexError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tracing::Instrument;

use crate::metadata::{announces_video, script_body};
use crate::publishing::PublishStats;
use crate::uploader::{INDEX_TIMEOUT, Job, Uploader};
use crate::{OriginConfig, OriginDeps};

/// Bound on a segment's bytes: far above 2 s of 1080p60 at 20 Mb/s.
const MAX_SEGMENT_BYTES: usize = 32 * 1024 * 1024;

/// State of one live publish.
pub struct PublishSession {
    grant: PublishGrant,
    deps: OriginDeps,
    hub: Arc<Hub>,
    normalizer: Normalizer,
    packager: Packager,
    /// Wall-clock Unix ms of normalized time 0, set by the first media frame.
    wall_clock_origin_ms: Option<i64>,
    uploads: mpsc::Sender<Job>,
    uploader: JoinHandle<()>,
    /// A segment was dropped before upload; the next one starts a discontinuity.
    gap_pending: bool,
    stats: Arc<PublishStats>,
    ingest_bytes: metrics::Counter,
}

impl PublishSession {
    /// Opens the index session (fencing older epochs) and starts the hub and uploader.
    pub async fn start(
        grant: PublishGrant,
        config: &OriginConfig,
        deps: &OriginDeps,
        metadata: Option<&StreamMetadata>,
    ) -> Result<Self, IndexError> {
        let opening = deps.index.open_session(&grant.stream_id, grant.epoch);
        let start = timeout(INDEX_TIMEOUT, opening)
            .await
            .map_err(|_| IndexError::Unavailable("open_session timed out".into()))??;
        let packager = Packager::new(PackagerConfig {
            target_duration_ms: config.hls.target_duration.as_millis() as u64,
            expect_video: announces_video(metadata),
            max_segment_bytes: MAX_SEGMENT_BYTES,
        });
        let (uploads, jobs) = mpsc::channel(config.hls.upload_queue.max(1));
        let stats = deps.publishing.add(&grant.stream_id, grant.epoch);
        let uploader = Uploader::new(&grant, start, config, deps, stats.clone());
        let upload_span =
            tracing::info_span!("uploader", stream_id = %grant.stream_id, epoch = grant.epoch);
        let session = Self {
            hub: deps.hubs.start(&grant.stream_id),
            stats: stats.clone(),
            ingest_bytes: metrics::counter!(crate::metrics::INGEST_BYTES),
            grant,
            deps: deps.clone(),
            normalizer: Normalizer::new(),
            packager,
            wall_clock_origin_ms: None,
            uploads,
            uploader: tokio::spawn(uploader.run(jobs).instrument(upload_span)),
            gap_pending: false,
        };
        if let Some(metadata) = metadata {
            session.hub.publish(Frame::new(
                FrameKind::Script,
                0,
                false,
                false,
                &script_body(metadata),
            ));
        }
        Ok(session)
    }

    /// New `onMetaData` from the publisher.
    pub fn on_metadata(&mut self, metadata: &StreamMetadata) {
        self.hub.publish(Frame::new(
            FrameKind::Script,
            0,
            false,
            false,
            &script_body(metadata),
        ));
    }

    /// An FLV video tag body.
    pub fn on_video(&mut self, raw_timestamp_ms: u32, body: &[u8]) {
        self.count_ingest(body.len());
        let dts = self.normalize(Track::Video, raw_timestamp_ms);
        let Ok(tag) = flv::parse_video(body) else {
            tracing::debug!(len = body.len(), "malformed video tag dropped");
            return;
        };
        let config = tag.packet == VideoPacket::SequenceHeader;
        let keyframe = tag.is_keyframe() && !config;
        self.hub.publish(Frame::new(
            FrameKind::Video,
            dts as u32,
            keyframe,
            config,
            body,
        ));
        let packaged = self.packager.push_video(dts, body);
        self.on_packaged(packaged);
    }

    /// An FLV audio tag body.
    pub fn on_audio(&mut self, raw_timestamp_ms: u32, body: &[u8]) {
        self.count_ingest(body.len());
        let dts = self.normalize(Track::Audio, raw_timestamp_ms);
        let Ok(tag) = flv::parse_audio(body) else {
            tracing::debug!(len = body.len(), "malformed audio tag dropped");
            return;
        };
        let config = tag.packet == flv::AudioPacket::SequenceHeader;
        self.hub.publish(Frame::new(
            FrameKind::Audio,
            dts as u32,
            false,
            config,
            body,
        ));
        let packaged = self.packager.push_audio(dts, body);
        self.on_packaged(packaged);
    }

    /// The publisher stopped: end viewers, flush and index the open segment, release the lease.
    pub async fn finish(mut self) {
        self.deps.hubs.finish(&self.grant.stream_id, &self.hub);
        if let Some(last) = self.packager.finish() {
            let job = self.job(last);
            // The final segment waits for room instead of being dropped.
            let _ = self.uploads.send(job).await;
        }
        drop(self.uploads);
        if let Err(error) = self.uploader.await {
            tracing::error!(%error, "segment uploader failed");
        }
        self.deps
            .publishing
            .remove(&self.grant.stream_id, self.grant.epoch);
        self.deps.authorizer.release(&self.grant).await;
        tracing::info!(epoch = self.grant.epoch, "publish ended");
    }

    fn count_ingest(&self, bytes: usize) {
        self.stats.add_bytes(bytes);
        self.ingest_bytes.increment(bytes as u64);
    }

    fn normalize(&mut self, track: Track, raw_timestamp_ms: u32) -> u64 {
        if self.wall_clock_origin_ms.is_none() {
            self.wall_clock_origin_ms = Some(unix_millis());
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
        let job = self.job(segment);
        match self.uploads.try_send(job) {
            Ok(()) => self.gap_pending = false,
            Err(_) => {
                crate::metrics::segment_dropped();
                tracing::error!("segment dropped: upload queue full (object store too slow)");
                self.gap_pending = true;
            }
        }
    }

    fn job(&self, segment: Segment) -> Job {
        let origin_ms = self.wall_clock_origin_ms.unwrap_or_else(unix_millis);
        Job {
            program_date_time_ms: origin_ms + segment.start_dts_ms as i64,
            gap_before: self.gap_pending,
            segment,
        }
    }
}

fn unix_millis() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now.as_millis() as i64
}
