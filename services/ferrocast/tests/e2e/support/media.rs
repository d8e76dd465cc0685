//! Media fixtures and the real clients: ffmpeg as publisher and player, ffprobe as judge.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// The synthetic live source of `shared/TESTING.md` (720p30 test pattern and a tone, 2 s GOP),
/// with B-frames, as ffmpeg input and encoder arguments.
#[rustfmt::skip]
const SYNTHETIC_SOURCE: &[&str] = &[
    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-bf", "2",
    "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
    "-b:v", "2500k", "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
];

fn tool(name: &str) -> Command {
    let found = Command::new("which")
        .arg(name)
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found,
        "{name} is not installed: run scripts/install-test-deps.sh"
    );
    Command::new(name)
}

/// An 8-second FLV clip of the synthetic source, encoded once per test run, so tests can
/// publish with `-c copy` at ~1% CPU instead of encoding 720p each.
pub fn clip() -> &'static Path {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("clip-{}.flv", std::process::id()));
        let output = tool("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y"])
            .args(SYNTHETIC_SOURCE)
            .args(["-t", "8", "-f", "flv"])
            .arg(&path)
            .output()
            .expect("run ffmpeg");
        assert!(
            output.status.success(),
            "encoding the clip: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        path
    })
}

/// Publishes the clip at real-time pace, `loops` extra times (-1 forever).
pub fn publish_clip(url: &str, loops: i32) -> Child {
    tool("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-re",
            "-stream_loop",
            &loops.to_string(),
            "-i",
        ])
        .arg(clip())
        .args(["-c", "copy", "-f", "flv", url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ffmpeg publisher")
}

/// Encodes and publishes the synthetic source live for `seconds`.
pub fn publish_live(url: &str, seconds: u32) -> Child {
    tool("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re"])
        .args(SYNTHETIC_SOURCE)
        .args(["-t", &seconds.to_string(), "-f", "flv", url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ffmpeg publisher")
}

/// Runs a command to completion, bounded by `timeout` seconds (coreutils `timeout`), with the
/// environment variables set on it.
pub fn run_bounded(command: Command, timeout_s: u32) -> Output {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let set = command
        .get_envs()
        .filter_map(|(name, value)| Some((name, value?)));
    Command::new("timeout")
        .arg(timeout_s.to_string())
        .arg(program)
        .args(args)
        .envs(set)
        .output()
        .expect("run bounded command")
}

/// ffprobe's JSON view of the streams and format at `url`.
pub fn probe(url: &str) -> serde_json::Value {
    let mut command = tool("ffprobe");
    command.args([
        "-v",
        "error",
        "-show_entries",
        "stream=codec_name,codec_type,width,height,has_b_frames",
    ]);
    command.args(["-show_entries", "format=duration", "-of", "json", url]);
    let output = run_bounded(command, 60);
    assert!(
        output.status.success(),
        "ffprobe {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("ffprobe json")
}

/// The codec names ffprobe found, sorted.
pub fn codecs(probe: &serde_json::Value) -> Vec<String> {
    let streams = probe["streams"].as_array().cloned().unwrap_or_default();
    let mut names: Vec<String> = streams
        .iter()
        .filter_map(|s| s["codec_name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Decodes `seconds` of `url` with ffmpeg; returns ffmpeg's error output (empty when clean).
pub fn decode_errors(url: &str, seconds: u32) -> String {
    let mut command = tool("ffmpeg");
    command.args([
        "-nostdin",
        "-v",
        "error",
        "-i",
        url,
        "-t",
        &seconds.to_string(),
        "-f",
        "null",
        "-",
    ]);
    let output = run_bounded(command, 60);
    assert!(
        output.status.success(),
        "ffmpeg decode of {url} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits for a publisher to exit; returns its exit success and error output.
pub fn finish(mut publisher: Child) -> (bool, String) {
    let status = publisher.wait().expect("wait for ffmpeg");
    let mut stderr = String::new();
    if let Some(mut pipe) = publisher.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    (status.success(), stderr)
}
