//! Fault injection on the real cluster (issue 11): every role a process, real redis-server,
//! s3s-fs and ffmpeg; faults by signal (SIGKILL a crash, SIGSTOP a hang). Each test watches
//! one live stream with an HLS viewer on edge 1 that fetches every listed segment and an
//! HTTP-FLV viewer on edge 2, and asserts the numbers; the OBS tests drive a real OBS
//! Studio against `ferrocast dev`. Every figure is printed (`--nocapture`) as `measured: …`.
//!
//! These tests measure seconds on a 2-core machine, so they run one at a time ([`serial`]),
//! in a test binary of their own: cargo runs test binaries one after another, so no other
//! test shares the machine with them. Run `scripts/install-test-deps.sh` first.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing unwrap is a failing test

mod control;
mod obs;
mod origin;
mod redis;
mod s3;
#[path = "../e2e/support/mod.rs"]
#[allow(dead_code)] // shared with the e2e binary, which uses the rest
mod support;

use std::sync::{Mutex, MutexGuard};

use std::process::Child;
use std::time::Duration;

use crate::support::cluster::LocalCluster;
use crate::support::flv_watch::{FlvReport, FlvWatcher};
use crate::support::hls_watch::{HlsReport, HlsWatcher};
use crate::support::media::publish_clip;

/// Held by every test of this binary for its whole run: one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    // A test that failed while holding it leaves nothing to repair.
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long a freshly published stream may take to list its first segments.
const GOING_LIVE: Duration = Duration::from_secs(40);

/// A live stream on the cluster with its publisher and both viewers running.
pub struct LiveStream {
    /// The cluster (dropping it stops every process).
    pub cluster: LocalCluster,
    /// Stream id (logs, admin API).
    pub id: String,
    /// Public playback id.
    pub playback_id: String,
    /// Secret stream key.
    pub key: String,
    /// The ffmpeg publisher (2.5 Mb/s, 2 s GOP, looping).
    pub publisher: Child,
    /// HLS viewer on edge 1.
    pub hls: HlsWatcher,
    /// HTTP-FLV viewer on edge 2.
    pub flv: FlvWatcher,
}

impl LiveStream {
    /// Publishes to origin `origin` (1 or 2) and waits until both viewers receive media and
    /// the playlist lists `segments` segments.
    pub fn start(cluster: LocalCluster, origin: usize, segments: u64) -> Self {
        let (id, playback_id, key) = cluster.create_stream("fault injection");
        let publisher = publish_clip(&publish_url(&cluster, origin, &key), -1);
        let hls_url = format!("{}/hls/{playback_id}/index.m3u8", cluster.var("EDGE_URL_1"));
        let hls = HlsWatcher::start(&hls_url);
        hls.wait_for_msn(segments.saturating_sub(1), GOING_LIVE);
        let flv_url = format!("{}/live/{playback_id}.flv", cluster.var("EDGE_URL_2"));
        let flv = FlvWatcher::start(&flv_url);
        flv.wait_for_tags(50, Duration::from_secs(15));
        Self {
            cluster,
            id,
            playback_id,
            key,
            publisher,
            hls,
            flv,
        }
    }

    /// The playlist URL on edge `edge` (1 or 2).
    pub fn playlist_url(&self, edge: usize) -> String {
        let base = self.cluster.var(&format!("EDGE_URL_{edge}"));
        format!("{base}/hls/{}/index.m3u8", self.playback_id)
    }

    /// Stops both viewers and returns what they saw.
    pub fn stop_viewers(&mut self) -> (HlsReport, FlvReport) {
        (self.hls.stop(), self.flv.stop())
    }

    /// Stops the publisher (it would otherwise outlive the test).
    pub fn stop_publisher(&mut self) {
        let _ = self.publisher.kill();
        let _ = self.publisher.wait();
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.stop_publisher();
    }
}

/// `rtmp://…/live/<key>` on origin `origin`.
pub fn publish_url(cluster: &LocalCluster, origin: usize, key: &str) -> String {
    format!("{}/{key}", cluster.var(&format!("ORIGIN_RTMP_{origin}")))
}

/// Prints a figure the way the release note collects them.
pub fn measured(what: &str, value: impl std::fmt::Debug) {
    eprintln!("measured: {what}: {value:?}");
}
