//! Real browsers: hls.js and mpegts.js in headless Chromium play what ferrocast serves.

use std::path::PathBuf;
use std::process::Command;

use crate::ingest::{playlist_when, segment_uris};
use crate::support::media::{publish_clip, run_bounded};
use crate::support::server::dev;

fn play_in_chromium(kind: &str, url: &str) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/browser/play.mjs");
    let modules = script.with_file_name("node_modules");
    assert!(
        modules.is_dir(),
        "browser test tools missing: run scripts/install-test-deps.sh"
    );
    let mut command = Command::new("node");
    command.arg(&script).args([
        "--kind",
        kind,
        "--url",
        url,
        "--seconds",
        "3",
        "--timeout",
        "40",
    ]);
    let output = run_bounded(command, 60);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "no JSON from play.mjs: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        output.status.success() && result["ok"] == true,
        "{kind} playback failed: {result}"
    );
    result
}

#[test]
fn hls_js_and_mpegts_js_play_in_chromium() {
    let server = dev().start();
    let mut publisher = publish_clip(&server.publish_url, -1);
    playlist_when(&server, "three segments", |text| {
        segment_uris(text).len() >= 3
    });

    let hls = play_in_chromium("hls", &server.hls_url);
    assert!(
        hls["advanced"].as_f64().unwrap() >= 3.0 && hls["videoWidth"] == 1280,
        "{hls}"
    );
    let flv = play_in_chromium("flv", &server.flv_url);
    assert!(
        flv["advanced"].as_f64().unwrap() >= 3.0 && flv["videoWidth"] == 1280,
        "{flv}"
    );

    let _ = publisher.kill();
    let _ = publisher.wait();
}
