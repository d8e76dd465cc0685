//! A real S3 server (`s3s-fs`, SigV4 and all) on a free loopback port, over a temp dir.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};

use crate::TempDir;
use crate::process;

/// Where and how to reach an [`S3Server`]: plain values, for the caller to build its own
/// client configuration from (path-style requests over plain HTTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Endpoint {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The one bucket served.
    pub bucket: String,
    /// The region to sign for (s3s-fs accepts any).
    pub region: String,
    /// The access key id the server accepts.
    pub access_key_id: String,
    /// The secret key the server checks signatures with.
    pub secret_access_key: String,
}

/// An `s3s-fs` child process on 127.0.0.1 serving bucket [`S3Server::BUCKET`] from a fresh
/// [`TempDir`] with fixed credentials; killed (by PID) on drop, then the dir removed.
pub struct S3Server {
    child: Child,
    port: u16,
    root: TempDir,
}

impl S3Server {
    /// The bucket served.
    pub const BUCKET: &str = "segments";
    /// The access key id accepted.
    pub const ACCESS_KEY_ID: &str = "AKEXAMPLE";
    /// The secret key signatures are checked with.
    pub const SECRET_ACCESS_KEY: &str = "SKEXAMPLE";
    /// The region reported by [`S3Server::config`].
    pub const REGION: &str = "us-east-1";

    /// Starts one on a free port and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If `s3s-fs` is missing ("run scripts/install-test-deps.sh") or does not come up on
    /// any of several ports.
    #[must_use]
    pub fn start() -> Self {
        let root = TempDir::new();
        // s3s-fs serves each subdirectory of its root as a bucket.
        std::fs::create_dir_all(root.path().join(Self::BUCKET)).expect("create the bucket dir");
        let (child, port) = process::on_a_free_port("s3s-fs", |port| {
            let mut child = process::spawn(
                Command::new("s3s-fs")
                    .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--access-key", Self::ACCESS_KEY_ID])
                    .args(["--secret-key", Self::SECRET_ACCESS_KEY])
                    .arg(root.path()),
                "scripts/install-test-deps.sh \
                 (cargo install s3s-fs@0.14.1 --features binary --locked)",
            );
            if process::wait_ready(&mut child, || {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            }) {
                return Some((child, port));
            }
            process::kill(&mut child);
            None
        });
        Self { child, port, root }
    }

    /// How to reach it.
    #[must_use]
    pub fn config(&self) -> S3Endpoint {
        S3Endpoint {
            endpoint: self.endpoint(),
            bucket: Self::BUCKET.into(),
            region: Self::REGION.into(),
            access_key_id: Self::ACCESS_KEY_ID.into(),
            secret_access_key: Self::SECRET_ACCESS_KEY.into(),
        }
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory served; each subdirectory is a bucket.
    #[must_use]
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        process::kill(&mut self.child);
    }
}
