//! End-to-end tests: the real `ferrocast` binary with real ffmpeg, ffprobe and Chromium, all on
//! 127.0.0.1. Run `scripts/install-test-deps.sh` first; a missing tool fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing unwrap is a failing test

mod admission;
mod browser;
mod cluster;
mod cluster_auth;
mod delivery;
mod dvr;
mod encoder_variety;
mod flv_lanes;
mod hevc;
mod hostile;
mod http_defences;
mod ingest;
mod interop;
mod low_latency_browser;
mod low_latency_cluster;
mod operations;
mod recordings;
mod robustness;
mod rtmp_play;
mod signed_playback;
mod statuses;
#[allow(dead_code)] // shared with the faults binary, which uses the rest
mod support;
mod thumbnails;
mod tracing;
mod viewers;
mod webhooks;
