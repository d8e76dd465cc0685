//! What the CMAF ffprobe tests share: running the tools, packaging an FLV byte stream with
//! the crate's reader and CMAF packager, and ffprobe's view of each track written out.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use ferrocast_media::cmaf::{Config, Event, Init, Packager, TrackKind};
use ferrocast_media::flv::{self, AudioPacket, Reader, TagType, VideoPacket};
use ferrocast_media::hls::PackagerConfig;
use ferrocast_media::timestamp::{Normalizer, Track};
use serde_json::Value;

/// What a test that cannot run a tool says to do.
pub const INSTALL_HINT: &str = "run scripts/install-test-deps.sh to install ffmpeg and ffprobe";

/// Runs a tool, failing the test (never skipping it) if it is not installed.
pub fn run(tool: &str, args: &[&str]) -> Output {
    match Command::new(tool).args(args).output() {
        Ok(output) => output,
        Err(err) => panic!("cannot run `{tool}` ({err}); {INSTALL_HINT}"),
    }
}

/// A new directory under the system temp dir, unique to this process and moment.
pub fn unique_temp_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "ferrocast-cmaf-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The path as text, for a tool's arguments.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// What was fed and what came out, per track: frames fed, and init + segments.
#[derive(Default)]
pub struct Packaged {
    /// Video frames fed (coded frames, not sequence headers).
    pub video_frames: usize,
    /// Audio frames fed from the first video frame on.
    pub audio_frames: usize,
    /// The video track: its init segment, then every segment.
    pub video: Vec<u8>,
    /// The audio track: its init segment, then every segment.
    pub audio: Vec<u8>,
    /// Segments ended.
    pub segments: usize,
    /// The video track's init segment, if any.
    pub video_init: Option<Init>,
}

/// Packages `flv`; `expect_video` as the origin derives it from `onMetaData`.
pub fn package(flv: &[u8], expect_video: bool) -> Packaged {
    let mut reader = Reader::new();
    reader.push(flv);
    let mut normalizer = Normalizer::new();
    let mut packager = Packager::new(Config {
        segments: PackagerConfig {
            target_duration_ms: 2_000,
            expect_video,
            max_segment_bytes: 8 << 20,
        },
        part_target_ms: 334,
    });
    let mut out = Packaged::default();
    let mut events = Vec::new();
    // With video, audio before the first keyframe is dropped by design (a segment starts
    // at a keyframe), so it is not counted as fed.
    let mut video_started = !expect_video;
    while let Some(tag) = reader.next_tag().expect("valid flv") {
        let pushed = match tag.tag_type {
            TagType::Video => {
                let dts = normalizer.normalize(Track::Video, tag.timestamp_ms);
                let video = flv::parse_video(&tag.body).expect("valid video tag");
                let frame = video.packet == VideoPacket::Nalu;
                video_started |= frame;
                out.video_frames += usize::from(frame);
                packager.push_video(dts, &video)
            }
            TagType::Audio => {
                let dts = normalizer.normalize(Track::Audio, tag.timestamp_ms);
                let audio = flv::parse_audio(&tag.body).expect("valid audio tag");
                out.audio_frames += usize::from(video_started && audio.packet == AudioPacket::Raw);
                packager.push_audio(dts, &audio)
            }
            TagType::Script => continue,
        };
        let pushed = pushed.expect("supported input");
        events.extend(pushed);
    }
    events.extend(packager.finish().expect("finish"));
    for event in events {
        match event {
            Event::Init(init) => {
                assert_eq!(init.version, 0, "one configuration per track");
                track(&mut out, init.track).extend_from_slice(&init.data);
                if init.track == TrackKind::Video {
                    out.video_init = Some(init);
                }
            }
            Event::SegmentEnd(end) => {
                out.segments += 1;
                for segment in end.tracks {
                    track(&mut out, segment.track).extend_from_slice(&segment.data);
                }
            }
            Event::Part(_) => {}
        }
    }
    out
}

fn track(out: &mut Packaged, kind: TrackKind) -> &mut Vec<u8> {
    match kind {
        TrackKind::Video => &mut out.video,
        TrackKind::Audio => &mut out.audio,
    }
}

/// ffprobe's view of one track file: its stream, the format duration and the packet count.
pub fn probe(dir: &Path, name: &str, data: &[u8]) -> (Value, f64, usize) {
    let file = dir.join(name);
    std::fs::write(&file, data).expect("write track");
    #[rustfmt::skip]
    let output = run("ffprobe", &[
        "-v", "error", "-show_streams", "-show_format", "-of", "json", path_str(&file),
    ]);
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "ffprobe {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).expect("ffprobe json");
    let streams = json["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1, "{name}: {json}");
    let end: f64 = json["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("{name}: no duration in {json}"));
    #[rustfmt::skip]
    let packets = run("ffprobe", &[
        "-v", "error", "-show_entries", "packet=dts_time", "-of", "csv",
        path_str(&file),
    ]);
    let listed = String::from_utf8_lossy(&packets.stdout).into_owned();
    let dts: Vec<f64> = listed
        .lines()
        .filter_map(|l| l.strip_prefix("packet,"))
        .map(|t| t.parse().expect("packet dts"))
        .collect();
    // A fragmented file's duration runs to its last decode time; the media starts at the
    // first packet's decode time (after the encoder's audio priming or B-frame delay).
    let duration = end - dts.first().copied().unwrap_or(0.0);
    let count = dts.len();
    (streams[0].clone(), duration, count)
}

/// Asserts a duration is within `tolerance` seconds of the expected one.
pub fn assert_close(name: &str, actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{name}: duration {actual} s, expected {expected} s ± {tolerance}"
    );
}

/// Checks the video track of a 30 fps input of `codec` and `size`, and decodes it without
/// an error.
pub fn check_video(dir: &Path, packaged: &Packaged, codec: &str, size: (u64, u64)) {
    let (stream, duration, packets) = probe(dir, "video.mp4", &packaged.video);
    assert_eq!(stream["codec_name"], codec, "{stream}");
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(size.0), Some(size.1))
    );
    assert_eq!(packets, packaged.video_frames);
    let frame = 1.0 / 30.0;
    assert_close(
        "video",
        duration,
        packaged.video_frames as f64 * frame,
        frame,
    );
    let file = dir.join("video.mp4");
    let decode = run(
        "ffmpeg",
        &["-v", "error", "-i", path_str(&file), "-f", "null", "-"],
    );
    let errors = String::from_utf8_lossy(&decode.stderr);
    assert!(
        decode.status.success() && errors.is_empty(),
        "decode errors:\n{errors}"
    );
}

/// Checks the audio track: codec, sample rate, one packet per frame fed and the duration.
pub fn check_audio(dir: &Path, packaged: &Packaged, codec: &str, rate: u64, frame_samples: f64) {
    let (stream, duration, packets) = probe(dir, "audio.mp4", &packaged.audio);
    assert_eq!(stream["codec_name"], codec, "{stream}");
    assert_eq!(
        stream["sample_rate"].as_str(),
        Some(rate.to_string().as_str())
    );
    assert_eq!(
        packets, packaged.audio_frames,
        "every audio frame fed is in the output"
    );
    let frame = frame_samples / rate as f64;
    assert_close(
        "audio",
        duration,
        packaged.audio_frames as f64 * frame,
        frame,
    );
}
