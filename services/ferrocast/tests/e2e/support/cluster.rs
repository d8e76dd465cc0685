//! Runs `deploy/local-cluster.sh` (redis-server, s3s-fs, control, two origins, two edges) and
//! reads the `KEY=value` lines it prints (URLs, ops ports, PIDs for fault injection). Stopped with SIGTERM so it stops what it started.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How many lines of each process's log a failed test prints.
const LOG_TAIL_LINES: usize = 40;

/// A running local cluster.
pub struct LocalCluster {
    child: Child,
    vars: HashMap<String, String>,
}

impl LocalCluster {
    /// Starts the cluster and waits until it prints `READY=1`.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the cluster with extra environment for `local-cluster.sh`.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local-cluster.sh");
        let mut child = Command::new("bash")
            .arg(script)
            .envs(env.iter().copied())
            .env("LOCAL_CLUSTER_BIN", env!("CARGO_BIN_EXE_ferrocast"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start deploy/local-cluster.sh");
        let receiver = super::stdout_lines(&mut child);
        let mut vars = HashMap::new();
        while !vars.contains_key("READY") {
            let line = receiver
                .recv_timeout(Duration::from_secs(90))
                .expect("local-cluster.sh printed READY=1 within 90 s");
            if let Some((key, value)) = line.split_once('=') {
                vars.insert(key.to_owned(), value.to_owned());
            }
        }
        Self { child, vars }
    }

    /// Starts control again with its settings (after a SIGKILL) through the printed
    /// `CONTROL_RESTART` script, and records its new `CONTROL_PID`.
    pub fn restart_control(&mut self) {
        let output = Command::new("bash")
            .arg(self.var("CONTROL_RESTART"))
            .output()
            .expect("run the control restart script");
        assert!(output.status.success(), "restarting control: {output:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        let pid = text
            .lines()
            .find_map(|line| line.strip_prefix("CONTROL_PID="))
            .expect("the script printed CONTROL_PID");
        self.vars.insert("CONTROL_PID".to_owned(), pid.to_owned());
    }

    /// Creates a stream through the admin API: `(id, playback_id, stream_key)`.
    pub fn create_stream(&self, name: &str) -> (String, String, String) {
        let auth = format!("Bearer {}", self.var("ADMIN_TOKEN"));
        let created = super::http::request(
            "POST",
            &format!("{}/v1/streams", self.var("ADMIN_URL")),
            &[("Authorization", &auth)],
            &format!(r#"{{"name":"{name}"}}"#),
        );
        assert_eq!(created.status, 201, "{}", created.text());
        let stream: serde_json::Value =
            serde_json::from_slice(&created.body).expect("a JSON stream");
        let field = |name: &str| stream[name].as_str().expect("a string field").to_owned();
        (field("id"), field("playback_id"), field("stream_key"))
    }

    /// Prints the end of every process's log (a failed test's evidence; the script removes
    /// the logs when it stops).
    fn print_logs(&self) {
        let Some(dir) = self.vars.get("LOG_DIR") else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut logs: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!("---- {} (last {} lines)", log.display(), tail.len());
            for line in tail {
                eprintln!("{line}");
            }
        }
    }

    /// A printed value.
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("local-cluster.sh printed no {key}"))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
