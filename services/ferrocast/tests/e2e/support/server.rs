//! Starts `ferrocast dev` on loopback with ephemeral ports and reads the URLs it prints.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A running `ferrocast dev`, killed on drop.
pub struct DevServer {
    child: Child,
    /// What it was started with, to start it again the same way.
    env: Vec<(String, String)>,
    /// Whether dropping it removes the data directory (not when a restart took it over).
    owns_data_dir: bool,
    /// Where it keeps its stream and segments.
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
}

impl DevServer {
    /// Starts the binary and waits for its URLs.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the binary with extra environment variables.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_wrapped(&[], env)
    }

    /// Starts the binary through `wrapper` (a program and its arguments that runs the
    /// command after them in its place, such as `prlimit --nofile=256:256`), with extra
    /// environment variables.
    pub fn start_wrapped(wrapper: &[&str], env: &[(&str, &str)]) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ferrocast-e2e-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::create_dir_all(&data_dir).unwrap();
        Self::launch(wrapper, env, data_dir, ("127.0.0.1:0", "127.0.0.1:0"))
    }

    /// Kills the process (SIGKILL, a crash) and starts it again on the same data directory
    /// and the same RTMP and HTTP ports, so publishers and players keep their URLs.
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let port = |url: &str| {
            let rest = url.split("://").nth(1).expect("a URL");
            let authority = rest.split('/').next().expect("an authority");
            authority.to_owned()
        };
        let (rtmp, http) = (port(&self.rtmp_server), port(&self.hls_url));
        let env: Vec<(String, String)> = std::mem::take(&mut self.env);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let restarted = Self::launch(&[], &env, self.data_dir.clone(), (&rtmp, &http));
        let mut old = std::mem::replace(self, restarted);
        old.owns_data_dir = false; // the restarted server keeps using it
    }

    fn launch(
        wrapper: &[&str],
        env: &[(&str, &str)],
        data_dir: PathBuf,
        (rtmp_listen, http_listen): (&str, &str),
    ) -> Self {
        let log_path = data_dir.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let binary = env!("CARGO_BIN_EXE_ferrocast");
        let mut command = match wrapper.split_first() {
            Some((program, arguments)) => {
                let mut command = Command::new(program);
                command.args(arguments).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args([
                "dev",
                "--rtmp-listen",
                rtmp_listen,
                "--http-listen",
                http_listen,
            ])
            .env("FERROCAST_OPS_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .arg("--data-dir")
            .arg(data_dir.join("data"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start ferrocast");
        let lines = read_startup_lines(&mut child);
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
            child,
            owns_data_dir: true,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            data_dir,
            log_path,
        }
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Segment objects on disk.
    pub fn segment_files(&self) -> Vec<PathBuf> {
        super::files_under(&self.data_dir.join("data").join("segments"))
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

fn read_startup_lines(child: &mut Child) -> Vec<String> {
    let receiver = super::stdout_lines(child);
    let mut lines = Vec::new();
    while lines.len() < 6 {
        let line = receiver
            .recv_timeout(Duration::from_secs(20))
            .expect("ferrocast dev printed its URLs within 20 s");
        lines.push(line);
    }
    lines
}
