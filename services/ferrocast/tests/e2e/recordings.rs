//! Recordings (live to VOD, ADR 21) on the local cluster: a broadcast with one encoder
//! reconnect inside the reconnect window is one recording; its VOD playlist on the edges names
//! the segments already in the bucket, ffprobe reads it at the broadcast's length with one
//! discontinuity, and so does its CMAF (fMP4) playlist set (ADR 24), one init segment per
//! track and session; hls.js and the watch page play both in Chromium; its thumbnails decode at
//! its picture size; when its retention has passed, the reaper has deleted its objects from the
//! bucket and its playlists answer 404.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::low_latency_browser::plays;
use crate::support::cluster::LocalCluster;
use crate::support::http::{get, request};
use crate::support::media::{clip, finish, probe};
use crate::support::{files_under, wait_for};

/// The origins' reconnect window here: short, so the broadcast ends soon after its publisher.
const RECONNECT_WINDOW: &str = "4s";
/// The stream's retention: long enough for the playback checks, short enough to wait out
/// (shown as "1m 15s" below).
const RETENTION_S: u64 = 75;

/// Publishes the pre-encoded clip (looped) at real-time pace for `seconds`.
fn publish_for(url: &str, seconds: u32) -> Child {
    Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i"])
        .arg(clip())
        .args(["-t", &seconds.to_string(), "-c", "copy", "-f", "flv", url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ffmpeg publisher")
}

fn publish(url: &str, seconds: u32) {
    let (ok, errors) = finish(publish_for(url, seconds));
    assert!(ok, "ffmpeg publish failed: {errors}");
}

struct Admin<'a> {
    cluster: &'a LocalCluster,
}

impl Admin<'_> {
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let auth = format!("Bearer {}", self.cluster.var("ADMIN_TOKEN"));
        let url = format!("{}{path}", self.cluster.var("ADMIN_URL"));
        let response = request(method, &url, &[("Authorization", &auth)], body);
        let json = serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
        (response.status, json)
    }

    fn recordings(&self, stream_id: &str) -> Vec<serde_json::Value> {
        let (status, json) = self.call("GET", &format!("/v1/streams/{stream_id}/recordings"), "");
        assert_eq!(status, 200, "{json}");
        json.as_array().cloned().expect("a list")
    }
}

#[test]
fn a_broadcast_with_a_reconnect_is_one_recording_that_plays_and_expires() {
    let cluster = LocalCluster::start_with(&[
        ("RECONNECT_WINDOW", RECONNECT_WINDOW),
        ("RECORDINGS_MIN_RETENTION", "1s"),
        ("RECORDINGS_REAP_INTERVAL", "500ms"),
    ]);
    let admin = Admin { cluster: &cluster };
    let (status, created) = admin.call(
        "POST",
        "/v1/streams",
        &format!(r#"{{"name":"rec","recording_retention":"{RETENTION_S}s"}}"#),
    );
    assert_eq!(status, 201, "{created}");
    // Shown in humantime's own spelling.
    assert_eq!(created["recording_retention"], "1m 15s");
    let stream_id = created["id"].as_str().unwrap().to_owned();
    let key = created["stream_key"].as_str().unwrap();
    let publish_url = format!("{}/{key}", cluster.var("ORIGIN_RTMP_1"));

    // 30 s, an encoder reconnect within the window, 20 s more.
    let first = publish_for(&publish_url, 30);
    let live = wait_for("a recording while live", Duration::from_secs(30), || {
        admin.recordings(&stream_id).into_iter().next()
    });
    assert_eq!(live["state"], "recording", "{live}");
    assert!(live["ended_at_ms"].is_null() && live["expires_at_ms"].is_null());
    let (ok, errors) = finish(first);
    assert!(ok, "ffmpeg publish failed: {errors}");
    publish(&publish_url, 20);

    // The window closes: exactly one recording, ready.
    let recording = wait_for("the recording to be ready", Duration::from_secs(30), || {
        let listed = admin.recordings(&stream_id);
        assert_eq!(listed.len(), 1, "one broadcast, one recording: {listed:?}");
        (listed[0]["state"] == "ready").then(|| listed[0].clone())
    });
    let id = recording["id"].as_str().unwrap().to_owned();
    let duration = recording["duration_s"].as_f64().unwrap();
    assert!((48.0..=52.0).contains(&duration), "{recording}");
    assert_eq!(recording["discontinuities"], 1, "{recording}");
    assert_eq!(recording["skipped_segments"], 0, "{recording}");
    assert!(
        recording["size_bytes"].as_u64().unwrap() > 1_000_000,
        "{recording}"
    );
    let ended = recording["ended_at_ms"].as_i64().unwrap();
    assert_eq!(
        recording["expires_at_ms"].as_i64(),
        Some(ended + RETENTION_S as i64 * 1000)
    );
    let (status, one) = admin.call("GET", &format!("/v1/recordings/{id}"), "");
    assert_eq!(status, 200);
    assert_eq!(one, recording);
    let playlist_url = one["playback"]["hls"].as_str().unwrap().to_owned();
    assert!(
        playlist_url.starts_with(cluster.var("EDGE_URL_1")),
        "absolute, on public_play_url: {playlist_url}"
    );
    let cmaf_url = one["playback"]["cmaf"].as_str().unwrap().to_owned();
    assert_eq!(cmaf_url, playlist_url.replace("index.m3u8", "cmaf.m3u8"));

    // The VOD playlist, the same bytes on both edges.
    let playlist = get(&playlist_url);
    assert_eq!(playlist.status, 200);
    let text = playlist.text();
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"), "{text}");
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    let discontinuities = text
        .lines()
        .filter(|line| *line == "#EXT-X-DISCONTINUITY")
        .count();
    assert_eq!(discontinuities, 1, "{text}");
    let cache = playlist.header("cache-control").unwrap_or_default();
    assert!(cache.starts_with("public, max-age="), "{cache}");
    let other_edge = playlist_url.replace(cluster.var("EDGE_URL_1"), cluster.var("EDGE_URL_2"));
    assert_eq!(get(&other_edge).body, playlist.body, "edges agree");

    // ffprobe reads it at the broadcast's length.
    let probed = probe(&playlist_url);
    let probed_s: f64 = probed["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration: {probed}"));
    assert!((48.0..=52.0).contains(&probed_s), "ffprobe: {probed_s} s");

    check_cmaf_playlists(&cmaf_url);

    // Thumbnails of it, from both sessions, at the recording's picture size; none past its end.
    let video = probed["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == "video");
    let size = video
        .map(|v| (v["width"].clone(), v["height"].clone()))
        .expect("a video stream");
    let thumbnail = one["playback"]["thumbnail"].as_str().unwrap();
    for time in ["0", "25", "40.5"] {
        let jpeg = get(&thumbnail.replace("time=0", &format!("time={time}")));
        assert_eq!(jpeg.status, 200, "thumbnail at {time} s: {}", jpeg.text());
        assert_eq!(jpeg.header("content-type"), Some("image/jpeg"));
        assert_eq!(jpeg_size(&jpeg.body), size, "thumbnail at {time} s");
    }
    assert_eq!(get(&thumbnail.replace("time=0", "time=70")).status, 404);

    // hls.js (cross-origin, from a page of its own) and the watch page play it.
    plays("hls", &playlist_url, &["--seconds", "5"]);
    plays("hls", &cmaf_url, &["--seconds", "5"]);
    let watch = one["playback"]["watch"].as_str().unwrap();
    let shown = plays("watch", watch, &["--seconds", "3"]);
    assert_eq!(shown["state"], "playing", "{shown}");
    assert_eq!(shown["player"], "recording (CMAF) · hls.js", "{shown}");
    assert!(
        unix_ms() < ended + RETENTION_S as i64 * 1000,
        "the checks outlasted the retention; raise RETENTION_S"
    );
    let live_playlist = format!(
        "{}/hls/{}/index.m3u8",
        cluster.var("EDGE_URL_1"),
        created["playback_id"].as_str().unwrap()
    );
    assert_eq!(
        get(&live_playlist).status,
        200,
        "the ended live playlist is still there"
    );

    // Retention passes: the reaper deletes the objects, then the entries.
    let bucket = std::path::Path::new(cluster.var("S3_ROOT"))
        .join(cluster.var("S3_BUCKET"))
        .join("live")
        .join(&stream_id);
    assert!(
        !files_under(&bucket).is_empty(),
        "its segments are in the bucket"
    );
    // Listed (`expired`, then `deleting`) until its objects are gone.
    wait_for(
        "the recording to be reaped",
        Duration::from_secs(RETENTION_S + 30),
        || admin.recordings(&stream_id).is_empty().then_some(()),
    );
    let left = files_under(&bucket);
    assert!(left.is_empty(), "objects left in the bucket: {left:?}");
    assert_eq!(get(&playlist_url).status, 404);
    assert_eq!(get(&other_edge).status, 404);
    assert_eq!(get(&cmaf_url).status, 404);
    assert_eq!(
        get(&live_playlist).status,
        404,
        "the ended live playlist named the same objects: it went with them"
    );
    let (status, _) = admin.call("GET", &format!("/v1/recordings/{id}"), "");
    assert_eq!(status, 404);
    let (status, _) = admin.call("DELETE", &format!("/v1/recordings/{id}"), "");
    assert_eq!(status, 404, "deleting it again: unknown");
}

/// The CMAF playlists of the recording: H.264 video with AAC audio as a rendition; per track
/// one discontinuity (the reconnect) and one init segment per session; every object they name
/// is there; ffprobe reads them at the broadcast's length.
fn check_cmaf_playlists(cmaf_url: &str) {
    let multivariant = get(cmaf_url);
    assert_eq!(multivariant.status, 200, "{}", multivariant.text());
    let text = multivariant.text();
    assert!(text.contains("CODECS=\"avc1."), "{text}");
    assert!(text.contains(",mp4a.40."), "{text}");
    assert!(text.contains("AUDIO=\"audio\""), "{text}");
    for track in ["video", "audio"] {
        let url = cmaf_url.replace("cmaf.m3u8", &format!("{track}.m3u8"));
        let playlist = get(&url);
        assert_eq!(playlist.status, 200, "{track}.m3u8");
        let text = playlist.text();
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD\n"), "{text}");
        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
        let count = |tag: &str| text.lines().filter(|l| l.starts_with(tag)).count();
        assert_eq!(count("#EXT-X-DISCONTINUITY"), 1, "{text}");
        assert_eq!(count("#EXT-X-MAP:"), 2, "one init per session: {text}");
        let maps = text
            .lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
            .map(|l| l.trim_end_matches('"'));
        let segments = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let named: Vec<&str> = maps.chain(segments).collect();
        assert!(named.len() > 20, "{text}");
        for name in named {
            let object = get(&cmaf_url.replace("cmaf.m3u8", name));
            assert_eq!(object.status, 200, "{track}: {name}");
            assert!(!object.body.is_empty(), "{track}: {name}");
        }
    }
    let probed = probe(cmaf_url);
    let probed_s: f64 = probed["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration: {probed}"));
    assert!(
        (48.0..=52.0).contains(&probed_s),
        "ffprobe cmaf: {probed_s} s"
    );
}

/// `(width, height)` of a JPEG as ffprobe reads it.
fn jpeg_size(jpeg: &[u8]) -> (serde_json::Value, serde_json::Value) {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("recording-thumbnail-{}.jpg", std::process::id()));
    std::fs::write(&path, jpeg).unwrap();
    let probed = probe(path.to_str().unwrap());
    let stream = &probed["streams"][0];
    assert_eq!(stream["codec_name"], "mjpeg", "{probed}");
    (stream["width"].clone(), stream["height"].clone())
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
