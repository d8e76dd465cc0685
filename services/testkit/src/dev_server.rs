//! `ferrocast dev` on loopback with ephemeral ports, its printed URLs read back: the server
//! the e2e tests and the load tool's tests run against.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How `ferrocast dev` is started: which binary, and where its data directories go.
#[derive(Debug, Clone)]
pub struct DevCommand {
    binary: PathBuf,
    scratch: PathBuf,
}

impl DevCommand {
    /// `binary` is the `ferrocast` executable; each server keeps its data in a directory of
    /// its own below `scratch`.
    pub fn new(binary: impl Into<PathBuf>, scratch: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            scratch: scratch.into(),
        }
    }

    /// Starts the server and waits for its URLs.
    pub fn start(&self) -> DevServer {
        self.start_wrapped(&[], &[])
    }

    /// Starts the server with extra environment variables.
    pub fn start_with(&self, env: &[(&str, &str)]) -> DevServer {
        self.start_wrapped(&[], env)
    }

    /// Starts the server through `wrapper` (a program and its arguments that runs the command
    /// after them in its place, such as `prlimit --nofile=256:256`), with extra environment.
    ///
    /// # Panics
    ///
    /// If the data directory cannot be made, the server does not start or does not print its
    /// URLs within 20 s.
    pub fn start_wrapped(&self, wrapper: &[&str], env: &[(&str, &str)]) -> DevServer {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ferrocast-dev-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let data_dir = self.scratch.join(name);
        std::fs::create_dir_all(&data_dir).expect("make the dev server's data directory");
        let env = env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let listen = ("127.0.0.1:0".to_owned(), "127.0.0.1:0".to_owned());
        DevServer::launch(self.clone(), wrapper, env, data_dir, listen)
    }
}

/// A running `ferrocast dev`, killed (SIGKILL, by its PID) on drop.
pub struct DevServer {
    child: Child,
    command: DevCommand,
    /// What it was started with, to start it again the same way.
    env: Vec<(String, String)>,
    /// Whether dropping it removes the data directory (not when a restart took it over).
    owns_data_dir: bool,
    /// Where it keeps its stream and segments (its `--data-dir` is `data` below this).
    pub data_dir: PathBuf,
    log_path: PathBuf,
    /// `rtmp://127.0.0.1:<port>/live/<key>`.
    pub publish_url: String,
    /// `rtmp://127.0.0.1:<port>/live`.
    pub rtmp_server: String,
    /// The secret stream key.
    pub stream_key: String,
    /// The HLS playlist URL.
    pub hls_url: String,
    /// The HTTP-FLV URL.
    pub flv_url: String,
    /// The ops port's base URL (`/metrics`, `/healthz`, `/readyz`).
    pub ops_url: String,
    /// The printed LL-HLS, DASH, multivariant and watch page URLs.
    low_latency: LowLatencyUrls,
}

/// The URLs `dev` prints after the metrics line.
#[derive(Debug, Clone)]
struct LowLatencyUrls {
    ll_hls: String,
    dash: String,
    multivariant: String,
    watch: String,
}

impl DevServer {
    /// Kills the process (SIGKILL, a crash) and starts it again on the same data directory
    /// and the same RTMP and HTTP ports, so publishers and players keep their URLs.
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let listen = (authority(&self.rtmp_server), authority(&self.hls_url));
        let env = std::mem::take(&mut self.env);
        let restarted = Self::launch(
            self.command.clone(),
            &[],
            env,
            self.data_dir.clone(),
            listen,
        );
        let mut old = std::mem::replace(self, restarted);
        old.owns_data_dir = false; // the restarted server keeps using it
    }

    fn launch(
        command: DevCommand,
        wrapper: &[&str],
        env: Vec<(String, String)>,
        data_dir: PathBuf,
        (rtmp_listen, http_listen): (String, String),
    ) -> Self {
        let log_path = data_dir.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open the dev server's log");
        let mut process = match wrapper.split_first() {
            Some((program, arguments)) => {
                let mut process = Command::new(program);
                process.args(arguments).arg(&command.binary);
                process
            }
            None => Command::new(&command.binary),
        };
        let mut child = process
            .args(["dev", "--rtmp-listen", &rtmp_listen])
            .args(["--http-listen", &http_listen])
            .env("FERROCAST_OPS_LISTEN", "127.0.0.1:0")
            .envs(env.iter().map(|(key, value)| (key, value)))
            .arg("--data-dir")
            .arg(data_dir.join("data"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start ferrocast dev");
        let lines = startup_lines(&mut child);
        let field = |label: &str| -> String {
            let prefix = format!("{label}: ");
            let line = lines.iter().find(|line| line.starts_with(&prefix));
            line.unwrap_or_else(|| panic!("no {label:?} line in {lines:?}"))[prefix.len()..]
                .to_owned()
        };
        Self {
            publish_url: field("RTMP publish URL"),
            rtmp_server: field("OBS server"),
            stream_key: field("OBS stream key"),
            hls_url: field("HLS"),
            flv_url: field("HTTP-FLV"),
            ops_url: field("Metrics").trim_end_matches("/metrics").to_owned(),
            low_latency: LowLatencyUrls {
                ll_hls: field("LL-HLS"),
                dash: field("DASH"),
                multivariant: field("Multivariant"),
                watch: field("Watch"),
            },
            child,
            command,
            owns_data_dir: true,
            env,
            data_dir,
            log_path,
        }
    }

    /// The LL-HLS multivariant playlist URL (`/ll/{playback_id}/index.m3u8`).
    pub fn ll_hls_url(&self) -> &str {
        &self.low_latency.ll_hls
    }

    /// The DASH MPD URL (`/ll/{playback_id}/manifest.mpd`).
    pub fn dash_url(&self) -> &str {
        &self.low_latency.dash
    }

    /// The multivariant playlist with the MPEG-TS alternative
    /// (`/ll/{playback_id}/multivariant.m3u8`).
    pub fn multivariant_url(&self) -> &str {
        &self.low_latency.multivariant
    }

    /// The watch page URL (`/watch/{playback_id}`).
    pub fn watch_url(&self) -> &str {
        &self.low_latency.watch
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the process is still running.
    ///
    /// # Panics
    ///
    /// If the process's state cannot be read.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// The directory segment objects are written to.
    pub fn segments_dir(&self) -> PathBuf {
        self.data_dir.join("data").join("segments")
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_data_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// `host:port` of a URL.
fn authority(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// The lines `dev` prints at start (its URLs), read with a deadline.
fn startup_lines(child: &mut Child) -> Vec<String> {
    let receiver = stdout_lines(child);
    let mut lines = Vec::new();
    while lines.len() < STARTUP_LINES {
        let line = receiver
            .recv_timeout(Duration::from_secs(20))
            .expect("ferrocast dev printed its URLs within 20 s");
        lines.push(line);
    }
    lines
}

/// How many lines `dev` prints before it serves: publish URL, OBS server and key, HLS,
/// HTTP-FLV, metrics, LL-HLS, DASH, multivariant, watch page.
const STARTUP_LINES: usize = 10;

/// The child's stdout, line by line, read on a thread so callers can wait with a deadline.
///
/// # Panics
///
/// If the child's stdout was not piped.
pub fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}
