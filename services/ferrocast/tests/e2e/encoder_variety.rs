//! The encoders that already worked keep working (issue 13, item 6): each case publishes a
//! few seconds of a real ffmpeg encode to `ferrocast dev`, as a broadcaster with that setting
//! would, and checks the HLS as a player would, with ffprobe: the codecs, the picture size of
//! the first and the last segment, a duration within a segment of what was published, and an
//! `EXT-X-TARGETDURATION` that never changes and that every `EXTINF` rounds under.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::ingest::{SHORT_RECONNECT_WINDOW, playlist_when, segment_uris, tag_value};
use crate::support::hls::media_playlist;
use crate::support::media::{codecs, finish, probe, run_bounded};
use crate::support::server::dev;

/// What `ferrocast dev` renders as `EXT-X-TARGETDURATION` at its default 2 s target.
const TARGET_S: u64 = 2;

/// One publisher setting and what its HLS must be.
struct Case {
    /// ffmpeg's inputs (each lasting `seconds`), then its encoder settings.
    args: Vec<String>,
    /// Media seconds published.
    seconds: u32,
    /// Codec names ffprobe finds, sorted.
    codecs: &'static [&'static str],
    /// Picture size of the first and of the last segment; `None` for a last segment that
    /// holds no keyframe (a long GOP), which ffprobe cannot size on its own.
    sizes: ((u64, u64), Option<(u64, u64)>),
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// A test pattern of `size` at `rate` frames per second, `seconds` long.
fn pattern(size: &str, rate: u32, seconds: u32) -> Vec<String> {
    words(&format!(
        "-f lavfi -i testsrc2=size={size}:rate={rate}:duration={seconds}"
    ))
}

/// A tone at `sample_rate`, `seconds` long.
fn tone(sample_rate: u32, seconds: u32) -> Vec<String> {
    words(&format!(
        "-f lavfi -i sine=frequency=440:sample_rate={sample_rate}:duration={seconds}"
    ))
}

/// AAC at `sample_rate` with `channels`.
fn aac(sample_rate: u32, channels: u32) -> Vec<String> {
    words(&format!(
        "-c:a aac -b:a 96k -ar {sample_rate} -ac {channels}"
    ))
}

/// libx264 with a keyframe every `gop` frames and `extra` settings.
fn x264(gop: u32, extra: &str) -> Vec<String> {
    words(&format!(
        "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g {gop} -keyint_min {gop} \
         -sc_threshold 0 -b:v 1M {extra}"
    ))
}

/// A case of a `size` picture with `seconds` of media, from ffmpeg `args` (inputs first).
fn publishing(
    args: &[Vec<String>],
    seconds: u32,
    codecs: &'static [&'static str],
    size: (u64, u64),
) -> Case {
    Case {
        args: args.concat(),
        seconds,
        codecs,
        sizes: (size, Some(size)),
    }
}

/// 30 fps at 640x360 with stereo AAC at 48 kHz, `seconds` long, encoded with `video`
/// settings and `more` output options.
fn ordinary(seconds: u32, video: Vec<String>, more: &str) -> Case {
    let args = [
        pattern("640x360", 30, seconds),
        tone(48_000, seconds),
        aac(48_000, 2),
        video,
        words(more),
    ];
    publishing(&args, seconds, &["aac", "h264"], (640, 360))
}

/// The width and height of the video ffprobe found at `url`.
fn picture(url: &str) -> (u64, u64) {
    let probed = probe(url);
    let streams = probed["streams"].as_array().cloned().unwrap_or_default();
    let video = streams.iter().find(|s| s["codec_type"] == "video");
    let video = video.unwrap_or_else(|| panic!("no video at {url}: {probed}"));
    (
        video["width"].as_u64().unwrap(),
        video["height"].as_u64().unwrap(),
    )
}

/// Publishes `case` live and checks its HLS once the playlist has ended.
fn check(case: &Case) {
    let server = dev().start_with(&[SHORT_RECONNECT_WINDOW]);
    let publisher = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re"])
        .args(&case.args)
        .args(["-f", "flv", &server.publish_url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ffmpeg publisher");

    // Every playlist a player polls while the stream is live.
    let mut targets = BTreeSet::new();
    let mut longest_ms = 0;
    let ended = playlist_when(&server, "EXT-X-ENDLIST", |text| {
        targets.extend(tag_value(text, "#EXT-X-TARGETDURATION"));
        for line in text.lines().filter_map(|l| l.strip_prefix("#EXTINF:")) {
            let seconds: f64 = line.trim_end_matches(',').parse().unwrap();
            longest_ms = longest_ms.max((seconds * 1000.0).round() as u64);
        }
        text.contains("#EXT-X-ENDLIST")
    });
    let (ok, errors) = finish(publisher);
    assert!(ok, "publisher failed: {errors}");

    assert_eq!(
        targets,
        BTreeSet::from([TARGET_S]),
        "the target never changes"
    );
    assert!(
        (longest_ms + 500) / 1000 <= TARGET_S,
        "an EXTINF of {longest_ms} ms rounds above the target: {ended}"
    );
    let probed = probe(&server.hls_url);
    assert_eq!(codecs(&probed), case.codecs, "{probed}");
    let duration: f64 = probed["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let published = f64::from(case.seconds);
    assert!(
        (published - 2.5..=published + 0.5).contains(&duration),
        "HLS of {duration} s for {published} s published: {ended}"
    );
    let (first, last) = case.sizes;
    let playlist = media_playlist(&server.hls_url).expect("the media playlist");
    let uris = segment_uris(&playlist.text);
    assert_eq!(picture(&playlist.resolve(&uris[0])), first, "first segment");
    if let Some(last) = last {
        let newest = uris.last().unwrap();
        assert_eq!(picture(&playlist.resolve(newest)), last, "last segment");
    }
}

#[test]
fn video_only() {
    let args = [pattern("640x360", 30, 6), x264(60, "-an")];
    check(&publishing(&args, 6, &["h264"], (640, 360)));
}

#[test]
fn mono_44_1_khz_with_half_second_keyframes() {
    let args = [
        pattern("640x360", 30, 6),
        tone(44_100, 6),
        aac(44_100, 1),
        x264(15, ""),
    ];
    check(&publishing(&args, 6, &["aac", "h264"], (640, 360)));
}

#[test]
fn audio_at_22_khz_and_15_fps() {
    let args = [
        pattern("480x270", 15, 6),
        tone(22_050, 6),
        aac(22_050, 2),
        x264(30, ""),
    ];
    check(&publishing(&args, 6, &["aac", "h264"], (480, 270)));
}

#[test]
fn sixty_fps_with_a_b_pyramid() {
    let pyramid = "-bf 3 -x264-params b-pyramid=normal:b-adapt=0";
    let args = [
        pattern("640x360", 60, 6),
        tone(48_000, 6),
        aac(48_000, 2),
        x264(120, pyramid),
    ];
    check(&publishing(&args, 6, &["aac", "h264"], (640, 360)));
}

/// Keyframes 10 s apart with a 2 s target: segments are cut without keyframes (so the last
/// one cannot be sized alone), and the target stays 2 (it became 8 before issue 13).
#[test]
fn ten_second_keyframe_interval() {
    let mut case = ordinary(8, x264(300, ""), "");
    case.sizes.1 = None;
    check(&case);
}

#[test]
fn full_hd_at_8_mbps() {
    let rate = "-b:v 8M -maxrate 8M -bufsize 8M";
    let args = [
        pattern("1920x1080", 30, 5),
        tone(48_000, 5),
        aac(48_000, 2),
        x264(60, rate),
    ];
    check(&publishing(&args, 5, &["aac", "h264"], (1920, 1080)));
}

/// The picture size changes mid-stream (an encoder restarted with new settings behind a
/// relay that keeps the connection): two encodes joined, each starting with its own SPS.
#[test]
fn resolution_change() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let joined = dir.join(format!("sizes-{}.h264", std::process::id()));
    let mut bytes = Vec::new();
    for (index, size) in ["640x360", "1280x720"].iter().enumerate() {
        let part = dir.join(format!("size-{}-{index}.h264", std::process::id()));
        let mut encode = Command::new("ffmpeg");
        encode.args(["-nostdin", "-v", "error", "-y"]);
        encode
            .args(pattern(size, 30, 3))
            .args(x264(60, ""))
            .arg(&part);
        let output = run_bounded(encode, 60);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        bytes.extend(std::fs::read(&part).unwrap());
    }
    std::fs::write(&joined, bytes).unwrap();
    let video = words(&format!("-f h264 -framerate 30 -i {}", joined.display()));
    let args = [video, tone(48_000, 6), aac(48_000, 2), words("-c:v copy")];
    let mut case = publishing(&args, 6, &["aac", "h264"], (640, 360));
    case.sizes.1 = Some((1280, 720));
    check(&case);
}

/// ffmpeg writes FLV timestamps on 31 bits: a publish that starts 2 s before 2^31 ms wraps to
/// 0 two seconds in.
#[test]
fn timestamps_that_wrap() {
    check(&ordinary(6, x264(60, ""), "-output_ts_offset 2147481.648"));
}

/// Both tracks jump 20 s ahead at 3 s (a splice): the playlist goes on without a hole.
#[test]
fn timestamps_that_jump() {
    let jump = r"-vf setpts=PTS+gte(T\,3)*20/TB -af asetpts=PTS+gte(T\,3)*20/TB";
    check(&ordinary(6, x264(60, ""), jump));
}
