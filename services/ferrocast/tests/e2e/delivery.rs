//! What players and CDNs expect of HLS delivery, through the real binary (ADR 17): an
//! audio-only publish loses no frame, MP3 reaches HLS, and segments answer byte ranges and
//! the CORS preflight a player on another page sends.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ingest::{SHORT_RECONNECT_WINDOW, playlist_when, segment_uris};
use crate::support::hls::media_playlist;
use crate::support::http::{get, request};
use crate::support::media::{codecs, finish, probe, run_bounded};
use crate::support::server::{DevServer, dev};

/// Encodes `seconds` of a tone with the audio `encoder` settings into an FLV file, once.
fn audio_clip(name: &str, encoder: &[&str], seconds: u32) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}.flv", std::process::id()));
    let tone = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    let mut encode = Command::new("ffmpeg");
    encode.args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", &tone]);
    encode.args(encoder).args(["-f", "flv"]).arg(&path);
    let output = run_bounded(encode, 60);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    path
}

/// The audio frames ffprobe reads in the file at `path`, and their codec.
fn audio_frames(path: &Path) -> (u64, String) {
    let mut count = Command::new("ffprobe");
    count.args(["-v", "error", "-select_streams", "a:0", "-count_packets"]);
    count.args([
        "-show_entries",
        "stream=codec_name,nb_read_packets",
        "-of",
        "json",
    ]);
    count.arg(path);
    let output = run_bounded(count, 60);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let stream = &json["streams"][0];
    let frames = stream["nb_read_packets"].as_str().unwrap().parse().unwrap();
    (frames, stream["codec_name"].as_str().unwrap().to_owned())
}

/// Publishes `clip` as it is, in real time, and returns the ended media playlist's segments
/// joined into one TS file (MPEG-TS segments concatenate).
fn publish_and_collect(server: &DevServer, clip: &Path) -> PathBuf {
    let publisher = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re", "-i"])
        .arg(clip)
        .args(["-c", "copy", "-f", "flv", &server.publish_url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ffmpeg publisher");
    playlist_when(server, "EXT-X-ENDLIST", |text| {
        text.contains("#EXT-X-ENDLIST")
    });
    let (ok, errors) = finish(publisher);
    assert!(ok, "publisher failed: {errors}");
    let playlist = media_playlist(&server.hls_url).expect("the ended playlist");
    let mut joined = Vec::new();
    for uri in segment_uris(&playlist.text) {
        let segment = get(&playlist.resolve(&uri));
        assert_eq!(segment.status, 200, "{uri}");
        joined.extend(segment.body);
    }
    let path = clip.with_extension("ts");
    std::fs::write(&path, joined).unwrap();
    path
}

/// Every frame of an audio-only publish is in the HLS, in the codec it was published in.
fn every_frame_arrives(name: &str, encoder: &[&str], codec: &str) {
    let clip = audio_clip(name, encoder, 6);
    let (frames_in, codec_in) = audio_frames(&clip);
    assert_eq!(codec_in, codec);
    let server = dev().start_with(&[SHORT_RECONNECT_WINDOW]);
    let hls = publish_and_collect(&server, &clip);
    let (frames_out, codec_out) = audio_frames(&hls);
    assert_eq!(codec_out, codec);
    assert_eq!(frames_out, frames_in, "{codec} frames in, frames out");
}

/// The user report of issue 13: 12 s of AAC gave 8.0 s of HLS (564 frames in, 376 out),
/// because the audio of the wait for video that never came was dropped.
#[test]
fn an_aac_audio_only_publish_keeps_every_frame() {
    every_frame_arrives("aac-only", &["-c:a", "aac", "-b:a", "128k"], "aac");
}

/// MP3 (FLV sound format 2) was dropped from HLS; it is carried in MPEG-TS as it is.
#[test]
fn an_mp3_audio_only_publish_keeps_every_frame() {
    let lame = ["-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100"];
    every_frame_arrives("mp3-only", &lame, "mp3");
}

#[test]
fn mp3_beside_h264_plays_over_hls() {
    let server = dev().start_with(&[SHORT_RECONNECT_WINDOW]);
    #[rustfmt::skip]
    let publisher = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=5",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=5",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p",
            "-c:a", "libmp3lame", "-b:a", "128k", "-f", "flv", &server.publish_url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ffmpeg publisher");
    playlist_when(&server, "EXT-X-ENDLIST", |text| {
        text.contains("#EXT-X-ENDLIST")
    });
    let (ok, errors) = finish(publisher);
    assert!(ok, "publisher failed: {errors}");
    let probed = probe(&server.hls_url);
    assert_eq!(codecs(&probed), ["h264", "mp3"], "{probed}");
    let duration: f64 = probed["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3.0..=5.5).contains(&duration), "{duration} s of 5 s");
}

#[test]
fn segments_answer_ranges_and_the_preflight_allows_authorization() {
    let server = dev().start_with(&[SHORT_RECONNECT_WINDOW]);
    let clip = audio_clip("ranges", &["-c:a", "aac"], 3);
    publish_and_collect(&server, &clip);
    let playlist = media_playlist(&server.hls_url).expect("the ended playlist");
    let url = playlist.resolve(&segment_uris(&playlist.text)[0]);
    let whole = get(&url);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));

    let player = ("Origin", "https://player.example");
    let part = request("GET", &url, &[player, ("Range", "bytes=188-375")], "");
    assert_eq!(part.status, 206);
    let total = whole.body.len();
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 188-375/{total}").as_str())
    );
    assert_eq!(part.body, whole.body[188..376]);
    assert_eq!(part.body[0], 0x47, "a TS packet");
    let exposed = part
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(
        exposed.to_ascii_lowercase().contains("content-range"),
        "{exposed}"
    );

    let past = request("GET", &url, &[("Range", &format!("bytes={total}-"))], "");
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{total}").as_str())
    );

    let preflight = request(
        "OPTIONS",
        &playlist.url,
        &[
            player,
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
        ],
        "",
    );
    assert!(
        (200..300).contains(&preflight.status),
        "{}",
        preflight.status
    );
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("authorization")
    );
}
