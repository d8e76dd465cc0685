//! Publishers other than ffmpeg: their RTMP command sequences differ, and ingest must take them.

use std::process::Command;

use crate::ingest::{SHORT_RECONNECT_WINDOW, playlist_when, segment_uris};
use crate::support::media::{clip, codecs, probe, run_bounded};
use crate::support::server::dev;

#[test]
fn gstreamer_rtmp2sink_publishes_to_the_end() {
    let server = dev().start_with(&[SHORT_RECONNECT_WINDOW]);
    let found = Command::new("which")
        .arg("gst-launch-1.0")
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found,
        "gst-launch-1.0 is not installed: run scripts/install-test-deps.sh"
    );
    // Re-mux the test clip without encoding; `sync=true` paces it in real time.
    let pipeline = format!(
        "filesrc location={} ! flvdemux name=d d.video ! queue ! h264parse ! flvmux name=m streamable=true \
         ! rtmp2sink location={} sync=true d.audio ! queue ! aacparse ! m.",
        clip().display(),
        server.publish_url
    );
    let mut command = Command::new("gst-launch-1.0");
    command.arg("-q").args(pipeline.split_whitespace());
    let output = run_bounded(command, 60);
    assert!(
        output.status.success(),
        "rtmp2sink failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let ended = playlist_when(&server, "EXT-X-ENDLIST", |text| {
        text.contains("#EXT-X-ENDLIST")
    });
    assert!(segment_uris(&ended).len() >= 3, "{ended}");
    let probed = probe(&server.hls_url);
    assert_eq!(codecs(&probed), ["aac", "h264"]);
    let duration: f64 = probed["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (7.0..=9.0).contains(&duration),
        "{duration} s of an 8 s clip"
    );
}
