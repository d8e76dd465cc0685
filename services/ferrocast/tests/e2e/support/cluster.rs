//! Runs `deploy/local-cluster.sh` (redis-server, s3s-fs, control, two origins, two edges) and
//! reads the `KEY=value` lines it prints. Stopped with SIGTERM so it stops what it started.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

    /// A printed value.
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("local-cluster.sh printed no {key}"))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
