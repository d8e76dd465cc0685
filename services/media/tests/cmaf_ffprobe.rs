//! The CMAF packager against real tools: ffmpeg encodes a short FLV (H.264 with B-frames,
//! and AAC or MP3), the crate's FLV reader and the CMAF packager turn it into per-track init
//! segments and segments, and ffprobe reads each track (its init followed by every segment)
//! back: codec, picture size, sample rate, duration and one packet per frame fed.

mod cmaf_support;

use std::path::Path;

use cmaf_support::{check_audio, check_video, package, path_str, run, unique_temp_dir};

/// Encodes 6 s of 640x360 at 30 fps (2 s GOP, two B-frames) and/or a tone to FLV.
fn encode(dir: &Path, video: bool, audio: &[&str]) -> Vec<u8> {
    let flv = dir.join("input.flv");
    let mut args = vec!["-v", "error", "-y"];
    if video {
        args.extend(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"]);
    }
    args.extend(["-f", "lavfi", "-i", "sine=frequency=440", "-t", "6"]);
    if video {
        #[rustfmt::skip]
        args.extend([
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60",
            "-sc_threshold", "0", "-bf", "2",
        ]);
    }
    args.extend(audio);
    args.extend(["-f", "flv", path_str(&flv)]);
    let output = run("ffmpeg", &args);
    assert!(
        output.status.success(),
        "ffmpeg could not encode the input: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(&flv).expect("read the input")
}

#[test]
fn ffprobe_reads_h264_and_aac_tracks() {
    let dir = unique_temp_dir("aac");
    let flv = encode(&dir, true, &["-c:a", "aac", "-ar", "48000"]);
    let packaged = package(&flv, true);
    assert_eq!(packaged.segments, 3, "6 s in 2 s segments");
    assert_eq!(packaged.video_frames, 180);
    check_video(&dir, &packaged, "h264", (640, 360));
    check_audio(&dir, &packaged, "aac", 48_000, 1024.0);
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}

#[test]
fn ffprobe_reads_an_mp3_track() {
    let encoders = run("ffmpeg", &["-hide_banner", "-encoders"]);
    if !String::from_utf8_lossy(&encoders.stdout).contains("libmp3lame") {
        println!("skipped: this ffmpeg has no libmp3lame encoder");
        return;
    }
    let dir = unique_temp_dir("mp3");
    let flv = encode(&dir, true, &["-c:a", "libmp3lame", "-ar", "44100"]);
    let packaged = package(&flv, true);
    check_video(&dir, &packaged, "h264", (640, 360));
    check_audio(&dir, &packaged, "mp3", 44_100, 1152.0);
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}

#[test]
fn ffprobe_reads_an_audio_only_session() {
    let dir = unique_temp_dir("audio-only");
    let flv = encode(&dir, false, &["-c:a", "aac", "-ar", "44100", "-ac", "1"]);
    let packaged = package(&flv, false);
    assert!(packaged.video.is_empty());
    assert!(packaged.segments >= 2);
    check_audio(&dir, &packaged, "aac", 44_100, 1024.0);
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}
