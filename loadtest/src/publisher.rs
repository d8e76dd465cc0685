//! An RTMP publisher: connects, publishes, sends metadata and codec configurations, then
//! loops the clip at real-time pace (clip timestamps against a monotonic clock, increasing
//! across loops), stamping every H.264 picture with the wall-clock send time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

use crate::clip::{Clip, ClipTag};
use crate::errors::Failure;
use crate::flv::TAG_VIDEO;
use crate::gate::Gate;
use crate::rtmp::RtmpClient;
use crate::sei;
use crate::stats::{PublishStats, add, unix_micros};
use crate::target::RtmpTarget;

/// Pause before publishing again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// One publisher's settings.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// Where to publish.
    pub target: RtmpTarget,
    /// What to publish.
    pub clip: Arc<Clip>,
    /// Insert latency stamps into H.264 pictures.
    pub stamp: bool,
    /// Connect/read/write timeout.
    pub io_timeout: Duration,
}

/// Publishes until `stop`, publishing again after failures; opens `ready` once the first
/// publish was accepted or failed.
pub async fn run(
    publisher: Publisher,
    stats: Arc<PublishStats>,
    stop: CancellationToken,
    ready: Arc<Gate>,
) {
    let mut ready = Some(ready);
    let mut published = false;
    let mut attempts = 0u64;
    loop {
        if attempts > 0 {
            add(&stats.reconnects, 1);
        }
        attempts += 1;
        let outcome = tokio::select! {
            outcome = session(&publisher, &stats, &mut ready, &mut published) => outcome,
            () = stop.cancelled() => break,
        };
        if let Err(failure) = outcome {
            stats.errors.record(&failure);
        }
        if let Some(gate) = ready.take() {
            gate.open_one();
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY_AFTER) => {}
            () = stop.cancelled() => break,
        }
    }
    if let Some(gate) = ready.take() {
        gate.open_one();
    }
}

async fn session(
    publisher: &Publisher,
    stats: &PublishStats,
    ready: &mut Option<Arc<Gate>>,
    published: &mut bool,
) -> Result<(), Failure> {
    let target = &publisher.target;
    let client = RtmpClient::connect(target, publisher.io_timeout).await?;
    let mut client = client.publish(&target.stream).await?;
    if !*published {
        *published = true;
        add(&stats.publishing, 1);
    }
    if let Some(gate) = ready.take() {
        gate.open_one();
    }
    let clip = &publisher.clip;
    client.send_metadata(&clip.metadata).await?;
    if let Some(config) = &clip.video_config {
        client.queue_media(true, config.clone(), 0)?;
    }
    if let Some(config) = &clip.audio_config {
        client.queue_media(false, config.clone(), 0)?;
    }
    client.flush().await?;
    count_bytes(&mut client, stats);

    let start = Instant::now();
    let mut stamper = Stamper::default();
    let mut loop_offset_ms = 0u64;
    loop {
        for tag in &clip.tags {
            let timestamp_ms = loop_offset_ms + u64::from(tag.timestamp_ms);
            let due = start + Duration::from_millis(timestamp_ms);
            wait_until(&mut client, due, stats).await?;
            let lag_us = Instant::now().saturating_duration_since(due).as_micros();
            stats
                .max_send_lag_us
                .fetch_max(u64::try_from(lag_us).unwrap_or(u64::MAX), Ordering::Relaxed);
            let is_video = tag.tag_type == TAG_VIDEO;
            let body = match publisher.stamp {
                true => stamper.stamp(tag, clip.nalu_length_size),
                false => None,
            };
            if body.is_some() {
                add(&stats.stamped, 1);
            }
            let body = body.unwrap_or_else(|| tag.body.clone());
            // RTMP timestamps are 32-bit milliseconds and wrap.
            client.queue_media(is_video, body, timestamp_ms as u32)?;
            client.flush().await?;
            add(&stats.messages, 1);
            if is_video {
                add(&stats.video_frames, 1);
            }
            count_bytes(&mut client, stats);
        }
        loop_offset_ms += u64::from(clip.loop_ms);
    }
}

/// Sleeps until `due`, meanwhile answering whatever the server sends.
async fn wait_until(
    client: &mut RtmpClient,
    due: Instant,
    stats: &PublishStats,
) -> Result<(), Failure> {
    let due = tokio::time::Instant::from_std(due);
    while tokio::time::Instant::now() < due {
        tokio::select! {
            () = sleep_until(due) => {}
            read = client.read() => {
                let count = read?;
                client.handle_read(count).await?;
                client.discard_events();
                count_bytes(client, stats);
            }
        }
    }
    Ok(())
}

fn count_bytes(client: &mut RtmpClient, stats: &PublishStats) {
    let (bytes_in, bytes_out) = client.take_counts();
    add(&stats.bytes_in, bytes_in);
    add(&stats.bytes_out, bytes_out);
}

/// Builds stamped copies of H.264 pictures, reusing its buffers.
#[derive(Default)]
struct Stamper {
    nal: Vec<u8>,
    body: BytesMut,
}

impl Stamper {
    /// The tag body with our SEI inserted, or `None` if it is not an AVC picture whose
    /// framing allows it (then it goes out unchanged).
    fn stamp(&mut self, tag: &ClipTag, length_size: usize) -> Option<Bytes> {
        if !tag.is_avc_picture() {
            return None;
        }
        self.nal.clear();
        sei::write_stamp_nal(unix_micros(), &mut self.nal);
        self.body.clear();
        self.body.extend_from_slice(&tag.body[..5]);
        sei::insert_nal(&tag.body[5..], &self.nal, length_size, &mut self.body).ok()?;
        Some(self.body.split().freeze())
    }
}
