//! HEVC over Enhanced RTMP through `ferrocast dev` (ADR 19). No encoder on these machines
//! publishes Enhanced RTMP (ffmpeg 5.1, GStreamer 1.22's `flvmux` and OBS 29.0 predate it),
//! so the publisher here is the raw RTMP client sending captured x265 bytes: the seed
//! corpus's capture (`scripts/fuzz-seeds.sh` wraps x265's output as Enhanced RTMP `hvc1`
//! tags: 160x120, 10 fps, an IDR every five frames), its first GOP looped, beside AAC that
//! ffmpeg encodes here. A viewer of the LL-HLS rendition gets `hvc1` video that ffprobe
//! reads and ffmpeg decodes; the MPEG-TS rendition carries the audio, and the multivariant
//! playlist does not offer it.

use std::process::Command;
use std::time::{Duration, Instant};

use ferrocast_media::flv::{Reader, TagType};

use crate::support::attack::{self, Attacker, DEFAULT_CHUNK_SIZE, Header, message_type};
use crate::support::http::{get, try_get};
use crate::support::media::run_bounded;
use crate::support::server::{DevServer, dev};
use crate::support::target::host_port;
use crate::support::wait_for;

/// The capture: a settings byte, then FLV tags without trailers (`loose_tags`).
const CAPTURE: &[u8] = include_bytes!("../../../fuzz/corpus/cmaf_packager/x265-hevc-enhanced-rtmp");
/// Media time published, at 10 fps: four 2 s segments.
const PUBLISHED_MS: u32 = 8_000;
const FRAME_MS: u32 = 100;

/// One message to publish: RTMP message type, timestamp, body.
type Message = (u8, u32, Vec<u8>);

/// The capture's sequence start and its first GOP (an IDR and four inter frames).
fn capture() -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut rest = &CAPTURE[1..];
    let mut bodies = Vec::new();
    while rest.len() >= 11 {
        let size = usize::from(rest[1]) << 16 | usize::from(rest[2]) << 8 | usize::from(rest[3]);
        bodies.push(rest[11..11 + size].to_vec());
        rest = &rest[11 + size..];
    }
    assert_eq!(&bodies[0][..5], b"\x90hvc1", "a sequence start comes first");
    let gop = bodies[1..6].to_vec();
    assert_eq!(gop[0][0] >> 4 & 0x07, 1, "the GOP starts with a key frame");
    (bodies.swap_remove(0), gop)
}

/// AAC at 44.1 kHz for the published time, as ffmpeg writes it into FLV.
fn aac_messages() -> Vec<Message> {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hevc-aac-{}.flv", std::process::id()));
    let seconds = (PUBLISHED_MS / 1_000).to_string();
    #[rustfmt::skip]
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", &seconds, "-c:a", "aac", "-ar", "44100", "-f", "flv"])
        .arg(&path)
        .output()
        .expect("run ffmpeg (scripts/install-test-deps.sh installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = Reader::new();
    reader.push(&std::fs::read(&path).expect("read the aac"));
    let _ = std::fs::remove_file(&path);
    let mut messages = Vec::new();
    while let Some(tag) = reader.next_tag().expect("ffmpeg's flv") {
        if tag.tag_type == TagType::Audio {
            messages.push((message_type::AUDIO, tag.timestamp_ms, tag.body.to_vec()));
        }
    }
    messages
}

/// The whole publish in timestamp order: configurations first, then the looped GOP and the
/// audio interleaved.
fn messages() -> Vec<Message> {
    let (start, gop) = capture();
    let mut messages = vec![(message_type::VIDEO, 0, start)];
    for (index, at) in (0..PUBLISHED_MS).step_by(FRAME_MS as usize).enumerate() {
        let frame = gop[index % gop.len()].clone();
        messages.push((message_type::VIDEO, at, frame));
    }
    messages.extend(aac_messages());
    // Stable: the sequence start stays ahead of the IDR at 0; the AAC header sorts first.
    let is_aac_header = |(kind, _, body): &Message| *kind == message_type::AUDIO && body[1] == 0;
    messages.sort_by_key(|message| (message.1, !is_aac_header(message)));
    messages
}

/// Publishes `messages` at real-time pace on `stream_id`, one chunk stream per type; hands
/// the connection back open, so the session lasts until the test drops it.
fn publish(mut attacker: Attacker, stream_id: u32, messages: Vec<Message>) -> Attacker {
    let start = Instant::now();
    for (kind, at, body) in messages {
        let due = start + Duration::from_millis(u64::from(at));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let header = Header::full(at, body.len(), kind, stream_id);
        let chunk_stream = if kind == message_type::VIDEO { 6 } else { 4 };
        let bytes = attack::message(chunk_stream, header, &body, DEFAULT_CHUNK_SIZE);
        attacker.send(&bytes).expect("the server takes the publish");
    }
    attacker
}

/// `/ll/{id}/{name}` of the dev server.
fn ll(server: &DevServer, name: &str) -> String {
    let (web, rest) = server.hls_url.split_once("/hls/").unwrap();
    let id = rest.split('/').next().unwrap();
    format!("{web}/ll/{id}/{name}")
}

/// The URIs of a media playlist (init first, then segments), relative to `base`.
fn uris(playlist: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in playlist.lines() {
        if let Some(map) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            uris.push(map.split('"').next().unwrap().to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            uris.push(line.to_owned());
        }
    }
    uris
}

/// ffprobe's streams and packet count of a local file.
fn probe(path: &std::path::Path) -> (serde_json::Value, usize) {
    let mut command = Command::new("ffprobe");
    command.args([
        "-v",
        "error",
        "-count_packets",
        "-show_streams",
        "-of",
        "json",
    ]);
    command.arg(path);
    let output = run_bounded(command, 30);
    assert!(
        output.status.success(),
        "ffprobe {}: {} {}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packets = json["streams"][0]["nb_read_packets"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap();
    (json, packets)
}

#[test]
fn an_hevc_publish_plays_as_hvc1_on_ll_hls_and_as_audio_on_ts() {
    let server = dev().start();
    let mut attacker = Attacker::connect(&host_port(&server.rtmp_server)).expect("connect");
    attacker.handshake().expect("handshake");
    let (stream_id, status) = attacker
        .publish("live", &server.stream_key, Duration::from_secs(10))
        .expect("publish answered");
    assert_eq!(status.code, "NetStream.Publish.Start", "{status:?}");
    let messages = messages();
    let publisher = std::thread::spawn(move || publish(attacker, stream_id, messages));

    // Three complete 2 s segments: 6 s of the 8 s published.
    let video_url = ll(&server, "video.m3u8");
    let playlist = wait_for("three LL-HLS segments", Duration::from_secs(30), || {
        let response = try_get(&video_url, Duration::from_secs(5)).ok()?;
        let text = response.text();
        (response.status == 200 && text.matches("#EXTINF").count() >= 3).then_some(text)
    });
    let index = get(&ll(&server, "index.m3u8")).text();
    assert!(
        index.contains("CODECS=\"hvc1.1.6.L30.90,mp4a.40.2\",RESOLUTION=160x120"),
        "{index}"
    );
    // Every frame sent: the segments listed below are complete ones.
    let attacker = publisher.join().expect("the publisher");
    let multivariant = get(&ll(&server, "multivariant.m3u8")).text();
    assert!(
        !multivariant.contains("/hls/"),
        "no TS variant for HEVC: {multivariant}"
    );

    // The init segment and the complete segments, as a player fetches them.
    let listed = uris(&playlist);
    let mut track = Vec::new();
    for uri in &listed {
        let response = get(&ll(&server, uri));
        assert_eq!(response.status, 200, "{uri}");
        track.extend_from_slice(&response.body);
    }
    let seconds: f64 = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|l| l.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hevc-ll-{}.mp4", std::process::id()));
    std::fs::write(&path, &track).unwrap();
    let (probed, packets) = probe(&path);
    let stream = &probed["streams"][0];
    assert_eq!(
        (
            stream["codec_name"].as_str(),
            stream["codec_tag_string"].as_str()
        ),
        (Some("hevc"), Some("hvc1")),
        "{probed}"
    );
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(160), Some(120))
    );
    assert_eq!(
        packets as f64,
        (seconds * 10.0).round(),
        "one packet per frame: {playlist}"
    );
    let mut decode = Command::new("ffmpeg");
    decode
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"]);
    let decoded = run_bounded(decode, 30);
    let errors = String::from_utf8_lossy(&decoded.stderr);
    assert!(
        decoded.status.success() && errors.is_empty(),
        "decode errors: {errors}"
    );
    let _ = std::fs::remove_file(&path);

    // The MPEG-TS rendition: the same stream's audio, no video.
    // The index names the media playlist, which names the segments.
    let mut url = server.hls_url.clone();
    let segment = loop {
        let first = uris(&get(&url).text())
            .into_iter()
            .next()
            .expect("a TS entry");
        url = format!("{}/{first}", url.rsplit_once('/').unwrap().0);
        let response = get(&url);
        if !response.body.starts_with(b"#EXTM3U") {
            break response;
        }
    };
    let ts_path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hevc-ts-{}.ts", std::process::id()));
    std::fs::write(&ts_path, &segment.body).unwrap();
    let (probed, _) = probe(&ts_path);
    let kinds: Vec<&str> = probed["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(kinds, ["aac"], "{probed}");
    let _ = std::fs::remove_file(&ts_path);
    assert!(!server.log().contains("panicked"), "{}", server.log());
    drop(attacker);
}
