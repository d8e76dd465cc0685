//! Thumbnails through the real binary (issue 14): a live 640x360 stream's
//! `/thumbnail/<playback id>.jpg` is a JPEG that ffprobe reads at 640x360; fifty requests at
//! once for a size not made yet (`?width=320`, read back at 320x180) cost at most one decode
//! per keyframe they saw (counted on the ops port's
//! `/metrics`); an unknown playback id is 404.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http::get;
use crate::support::media::probe;
use crate::support::server::{DevServer, dev};
use crate::support::wait_for;

/// The encoder's GOP: a keyframe every 60 frames at 30 fps.
const GOP: Duration = Duration::from_secs(2);

/// Encodes and publishes a 640x360 test pattern live, 2 s GOP, for `seconds`.
fn publish_640x360(url: &str, seconds: u32) -> Child {
    Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
        ])
        .args(["-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60"])
        .args(["-sc_threshold", "0", "-b:v", "800k", "-an"])
        .args(["-t", &seconds.to_string(), "-f", "flv", url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ffmpeg: run scripts/install-test-deps.sh")
}

/// `http://127.0.0.1:<port>/thumbnail/<playback id>.jpg` of the server's stream.
fn thumbnail_url(server: &DevServer) -> String {
    server
        .flv_url
        .replace("/live/", "/thumbnail/")
        .replace(".flv", ".jpg")
}

/// The value of one series on the ops port's `/metrics`, e.g. `name{label="x"}`.
fn metric(server: &DevServer, series: &str) -> f64 {
    let text = get(&format!("{}/metrics", server.ops_url)).text();
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '));
    let value = value.unwrap_or_else(|| panic!("{series} is not on /metrics"));
    value.trim().parse().expect("a number")
}

fn decodes(server: &DevServer) -> f64 {
    metric(
        server,
        "ferrocast_edge_thumbnail_decodes_total{outcome=\"ok\"}",
    )
}

#[test]
fn a_live_thumbnail_is_a_jpeg_of_the_streams_size_decoded_once_per_keyframe() {
    let server = dev().start();
    let mut publisher = publish_640x360(&server.publish_url, 60);
    let url = thumbnail_url(&server);

    // The stream goes live; its first keyframe makes the first thumbnail.
    let first = wait_for(
        "a thumbnail of the live stream",
        Duration::from_secs(30),
        || {
            let response = get(&url);
            (response.status == 200).then_some(response)
        },
    );
    assert_eq!(first.header("content-type"), Some("image/jpeg"));
    assert_eq!(first.header("cache-control"), Some("public, max-age=2"));
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("thumbnail-{}.jpg", std::process::id()));
    std::fs::write(&path, &first.body).unwrap();
    let probed = probe(path.to_str().unwrap());
    let stream = &probed["streams"][0];
    assert_eq!(stream["codec_name"], "mjpeg", "{probed}");
    assert_eq!(
        (&stream["width"], &stream["height"]),
        (&640.into(), &360.into())
    );

    // Fifty at once for a size not made yet, so the first asker's decode is the one the
    // others must share: one decode per keyframe seen, however many asked.
    let before = decodes(&server);
    let waits_before = metric(&server, "ferrocast_edge_thumbnail_waits_total");
    let small = format!("{url}?width=320");
    let started = Instant::now();
    let askers: Vec<_> = (0..50)
        .map(|_| {
            let url = small.clone();
            std::thread::spawn(move || get(&url))
        })
        .collect();
    let answers: Vec<_> = askers.into_iter().map(|a| a.join().unwrap()).collect();
    let burst = started.elapsed();
    let decoded = decodes(&server) - before;
    let statuses: BTreeSet<u16> = answers.iter().map(|answer| answer.status).collect();
    assert_eq!(statuses, BTreeSet::from([200]), "every asker gets the JPEG");
    // A keyframe's JPEG has one ETag: distinct ETags are the keyframes the burst saw.
    let keyframes_seen: BTreeSet<&str> = answers
        .iter()
        .map(|answer| answer.header("etag").expect("an etag"))
        .collect();
    let waits = metric(&server, "ferrocast_edge_thumbnail_waits_total") - waits_before;
    eprintln!(
        "50 requests in {burst:?}: {decoded} decodes, {} keyframes seen, {waits} joined a decode in flight",
        keyframes_seen.len()
    );
    let published_meanwhile = (burst.as_secs_f64() / GOP.as_secs_f64()).ceil() as usize + 1;
    assert!(
        keyframes_seen.len() <= published_meanwhile,
        "{} keyframes seen in {burst:?}",
        keyframes_seen.len()
    );
    assert!(
        decoded <= keyframes_seen.len() as f64,
        "{decoded} decodes for {} keyframes seen by 50 requests in {burst:?}",
        keyframes_seen.len()
    );

    assert!(decoded >= 1.0, "a width not asked before is decoded");
    std::fs::write(&path, &answers[0].body).unwrap();
    let probed = probe(path.to_str().unwrap());
    let stream = &probed["streams"][0];
    assert_eq!(
        (&stream["width"], &stream["height"]),
        (&320.into(), &180.into())
    );

    let unknown = get(&url.replace(".jpg", "x.jpg"));
    assert_eq!(unknown.status, 404);
    let _ = publisher.kill();
    let _ = publisher.wait();
}
