//! End-to-end check of the FLV → HLS pipeline against ffmpeg: encode a real
//! H.264/AAC FLV, package it, and have ffprobe/ffmpeg read the playlist back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use ferrocast_media::flv::{self, Reader, TagType};
use ferrocast_media::hls::{Packager, PackagerConfig, Playlist, PlaylistSegment, Segment, render};
use ferrocast_media::timestamp::{Normalizer, Track};

const INSTALL_HINT: &str = "run scripts/install-test-deps.sh to install ffmpeg and ffprobe";

/// Runs a tool, failing the test (never skipping it) if it is not installed.
fn run(tool: &str, args: &[&str]) -> Output {
    match Command::new(tool).args(args).output() {
        Ok(output) => output,
        Err(err) => panic!("cannot run `{tool}` ({err}); {INSTALL_HINT}"),
    }
}

fn unique_temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "ferrocast-media-roundtrip-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn encode_fixture(dir: &Path) -> PathBuf {
    let flv = dir.join("fixture.flv");
    #[rustfmt::skip]
    let output = run("ffmpeg", &[
        "-v", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
        "-f", "lavfi", "-i", "sine",
        "-t", "5",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "2", "-g", "30",
        "-c:a", "aac",
        "-f", "flv", path_str(&flv),
    ]);
    assert!(
        output.status.success(),
        "ffmpeg could not encode the fixture: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    flv
}

fn package(flv: &[u8]) -> Vec<Segment> {
    let mut reader = Reader::new();
    reader.push(flv);
    let mut normalizer = Normalizer::new();
    let mut packager = Packager::new(PackagerConfig {
        target_duration_ms: 1_000,
        expect_video: true,
        max_segment_bytes: 8 << 20,
    });
    let mut segments = Vec::new();
    while let Some(tag) = reader.next_tag().expect("valid flv") {
        let segment = match tag.tag_type {
            TagType::Video => {
                let dts = normalizer.normalize(Track::Video, tag.timestamp_ms);
                let video = flv::parse_video(&tag.body).expect("valid video tag");
                packager.push_video(dts, &video)
            }
            TagType::Audio => {
                let dts = normalizer.normalize(Track::Audio, tag.timestamp_ms);
                let audio = flv::parse_audio(&tag.body).expect("valid audio tag");
                packager.push_audio(dts, &audio)
            }
            TagType::Script => continue,
        };
        segments.extend(segment.expect("supported h264/aac input"));
    }
    assert_eq!(reader.buffered_len(), 0, "trailing bytes in the fixture");
    segments.extend(packager.finish());
    segments
}

fn write_hls(dir: &Path, segments: &[Segment]) -> PathBuf {
    let mut listed = Vec::new();
    for (msn, segment) in (0u64..).zip(segments) {
        std::fs::write(dir.join(format!("{msn}.ts")), &segment.data).expect("write segment");
        listed.push(PlaylistSegment {
            msn,
            duration_ms: segment.duration_ms,
            program_date_time_ms: 1_795_244_860_000 + segment.start_dts_ms as i64,
            discontinuity: false,
        });
    }
    let playlist = render(&Playlist {
        segments: &listed,
        discontinuity_base: 0,
        window: listed.len(),
        min_target_duration_s: 1,
        ended: true,
    });
    let index = dir.join("index.m3u8");
    std::fs::write(&index, playlist).expect("write playlist");
    index
}

/// Pulls `"duration": "<seconds>"` out of ffprobe's JSON without a JSON parser.
fn json_duration(json: &str) -> f64 {
    let after_key = json
        .split("\"duration\"")
        .nth(1)
        .expect("duration in ffprobe output");
    let value: String = after_key
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    value.parse().expect("numeric duration")
}

#[test]
fn ffprobe_reads_packaged_hls() {
    let dir = unique_temp_dir();
    let flv = std::fs::read(encode_fixture(&dir)).expect("read fixture");
    let segments = package(&flv);
    assert!(
        segments.len() >= 4,
        "expected ~5 one-second segments, got {}",
        segments.len()
    );
    assert!(segments.iter().all(|s| s.starts_with_keyframe));
    let index = write_hls(&dir, &segments);

    #[rustfmt::skip]
    let probe = run("ffprobe", &[
        "-v", "error",
        "-show_entries", "stream=codec_name",
        "-show_entries", "format=duration",
        "-of", "json", path_str(&index),
    ]);
    let json = String::from_utf8_lossy(&probe.stdout);
    assert!(
        probe.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let compact: String = json.split_whitespace().collect();
    assert!(
        compact.contains("\"codec_name\":\"h264\""),
        "no h264 stream: {json}"
    );
    assert!(
        compact.contains("\"codec_name\":\"aac\""),
        "no aac stream: {json}"
    );
    let duration = json_duration(&json);
    assert!(
        (duration - 5.0).abs() <= 0.5,
        "duration {duration} s is not about 5 s"
    );

    let decode = run(
        "ffmpeg",
        &["-v", "error", "-i", path_str(&index), "-f", "null", "-"],
    );
    let errors = String::from_utf8_lossy(&decode.stderr);
    assert!(
        decode.status.success() && errors.is_empty(),
        "decode errors:\n{errors}"
    );

    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}
