//! The loadtest binary against a real `ferrocast dev` on loopback: one publisher looping an
//! ffmpeg-made clip, three HTTP-FLV viewers and two HLS viewers for eight seconds, judged from
//! the JSON summary. Also: a non-loopback target is refused before any traffic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrocast_testkit::DevCommand;
use serde_json::Value;

const LOADTEST: &str = env!("CARGO_BIN_EXE_ferrocast-loadtest");

/// A child process killed (by its PID, through `Child`) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory under the target dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("loadtest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ferrocast` from the same target directory and profile as this test's binary, built
/// first (a no-op when it is up to date): it is a binary of another package.
fn ferrocast_binary() -> PathBuf {
    let profile_dir = Path::new(LOADTEST).parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace)
        .args(["build", "--quiet", "-p", "ferrocast", "--target-dir"])
        .arg(target_dir);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build -p ferrocast");
    assert!(status.success(), "cargo build -p ferrocast failed");
    let binary = profile_dir.join("ferrocast");
    assert!(
        binary.exists(),
        "{} missing after the build",
        binary.display()
    );
    binary
}

/// A 6 s 640x360 H.264 + AAC clip with 2 s GOPs and B-frames, made by ffmpeg.
fn make_clip(dir: &Path) -> PathBuf {
    let clip = dir.join("clip.flv");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-pix_fmt", "yuv420p",
        ])
        .args([
            "-g",
            "60",
            "-keyint_min",
            "60",
            "-sc_threshold",
            "0",
            "-b:v",
            "800k",
        ])
        .args(["-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "2"])
        .args(["-t", "6", "-f", "flv"])
        .arg(&clip)
        .status()
        .expect("ffmpeg is installed (scripts/install-test-deps.sh)");
    assert!(status.success(), "ffmpeg could not make the clip");
    clip
}

/// Runs the loadtest binary to its end (at most `limit`), returning its exit status and stderr.
fn run_loadtest(args: &[&str], dir: &Path, limit: Duration) -> (std::process::ExitStatus, String) {
    let stderr_path = dir.join("loadtest.stderr");
    let child = Command::new(LOADTEST)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("start ferrocast-loadtest");
    let mut guard = Guard(child);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "ferrocast-loadtest ran past {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status,
        std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    )
}

fn number(summary: &Value, path: &[&str]) -> f64 {
    let mut value = summary;
    for key in path {
        value = &value[key];
    }
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in the summary: {value}"))
}

#[test]
fn publisher_flv_and_hls_viewers_against_ferrocast_dev() {
    let scratch = Scratch::new("dev");
    let dir = &scratch.0;
    let ferrocast = ferrocast_binary();
    let clip = make_clip(dir);
    let server = DevCommand::new(&ferrocast, dir).start();
    let json_path = dir.join("summary.json");
    let args = [
        "--duration",
        "8s",
        "--quiet",
        "--publish-url",
        &server.publish_url,
        "--flv",
        clip.to_str().unwrap(),
        "--flv-url",
        &server.flv_url,
        "--flv-viewers",
        "3",
        "--hls-url",
        &server.hls_url,
        "--hls-viewers",
        "2",
        "--json",
        json_path.to_str().unwrap(),
    ];
    let (status, stderr) = run_loadtest(&args, dir, Duration::from_secs(60));
    assert!(status.success(), "loadtest failed: {status}\n{stderr}");
    let text = std::fs::read_to_string(&json_path).expect("the JSON summary was written");
    let summary: Value = serde_json::from_str(&text).unwrap();
    let context = format!("summary:\n{text}\nserver log:\n{}", server_log(dir));

    assert_eq!(number(&summary, &["errors_total"]), 0.0, "{context}");
    assert_eq!(
        number(&summary, &["publishers", "publishing"]),
        1.0,
        "{context}"
    );
    assert!(
        number(&summary, &["publishers", "stamped_frames"]) > 0.0,
        "{context}"
    );

    let flv = |path: &[&str]| number(&summary["flv"], path);
    assert_eq!(flv(&["viewers_receiving"]), 3.0, "{context}");
    assert_eq!(flv(&["viewers_keyframe_first"]), 3.0, "{context}");
    assert!(flv(&["min_video_frames_per_viewer"]) > 0.0, "{context}");
    assert_eq!(flv(&["ttff_ms", "count"]), 3.0, "{context}");
    assert!(flv(&["latency_ms", "count"]) > 0.0, "{context}");
    let p50 = flv(&["latency_ms", "p50_ms"]);
    assert!(
        p50 > 0.0 && p50 < 1000.0,
        "FLV latency p50 {p50} ms\n{context}"
    );

    let hls = |path: &[&str]| number(&summary["hls"], path);
    assert_eq!(hls(&["viewers_receiving"]), 2.0, "{context}");
    assert!(hls(&["segments"]) > 0.0, "{context}");
    assert!(hls(&["latency_ms", "count"]) > 0.0, "{context}");
    assert!(number(&summary, &["bytes_in_per_s"]) > 0.0, "{context}");
}

fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

#[test]
fn non_loopback_targets_are_refused_before_any_traffic() {
    let scratch = Scratch::new("refused");
    for url in [
        ["--flv-url", "http://10.0.0.1:8080/live/x.flv"],
        ["--hls-url", "http://example.com/hls/x/index.m3u8"],
        ["--rtmp-play-url", "rtmp://192.168.1.10/live/x"],
    ] {
        let args = [url[0], url[1], "--duration", "30s", "--quiet"];
        let started = Instant::now();
        let (status, stderr) = run_loadtest(&args, &scratch.0, Duration::from_secs(10));
        assert_eq!(status.code(), Some(2), "{url:?}: {stderr}");
        assert!(stderr.contains("non-loopback"), "{url:?}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url:?} was not refused at once"
        );
    }
}
