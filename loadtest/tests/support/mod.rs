//! What the loadtest binary's tests share: child and scratch-directory guards, the
//! `ferrocast` binary, an ffmpeg-made clip, a run of the loadtest binary, and reading its JSON
//! summary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const LOADTEST: &str = env!("CARGO_BIN_EXE_ferrocast-loadtest");

/// A child process killed (by its PID, through `Child`) when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory under the target dir, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
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
pub fn ferrocast_binary() -> PathBuf {
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
pub fn make_clip(dir: &Path) -> PathBuf {
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
pub fn run_loadtest(
    args: &[&str],
    dir: &Path,
    limit: Duration,
) -> (std::process::ExitStatus, String) {
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

/// Runs the loadtest binary with `args` and a JSON summary, at most a minute, and fails the
/// test if it failed; returns the summary, and its text with the server's log to explain a
/// failed assertion.
pub fn run_for_summary(args: &[&str], dir: &Path) -> (Value, String) {
    let json_path = dir.join("summary.json");
    let json = json_path.to_str().unwrap();
    let args: Vec<&str> = args.iter().copied().chain(["--json", json]).collect();
    let (status, stderr) = run_loadtest(&args, dir, Duration::from_secs(60));
    assert!(status.success(), "loadtest failed: {status}\n{stderr}");
    let text = std::fs::read_to_string(&json_path).expect("the JSON summary was written");
    let summary: Value = serde_json::from_str(&text).unwrap();
    let context = format!("summary:\n{text}\nserver log:\n{}", server_log(dir));
    (summary, context)
}

pub fn number(summary: &Value, path: &[&str]) -> f64 {
    let mut value = summary;
    for key in path {
        value = &value[key];
    }
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in the summary: {value}"))
}

pub fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}
