//! A real Redis Sentinel deployment on loopback: a primary, one replica (`--replicaof`) and
//! three `redis-sentinel` processes, each on a free port and killed by PID on drop.
//! [`SentinelCluster::failover`] runs `SENTINEL FAILOVER` and returns once the replica is the
//! primary everywhere and the old primary replicates from it.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::process;
use crate::resp::{Reply, command, info_field};
use crate::temp_dir::TempDir;

/// Sentinels started: the smallest set with a real majority.
const SENTINELS: usize = 3;
/// How long a failover, or the initial discovery, may take.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the harness looks again while it waits for the deployment to settle.
const POLL_EVERY: Duration = Duration::from_millis(50);
const INSTALL: &str = "scripts/install-test-deps.sh";

/// One process of the deployment.
struct Node {
    child: Child,
    port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        process::kill(&mut self.child);
    }
}

/// A primary, a replica and three Sentinels monitoring them as [`Self::master_name`].
pub struct SentinelCluster {
    /// `redis_nodes[primary]` is the primary now; the other one replicates from it.
    redis_nodes: [Node; 2],
    primary: usize,
    sentinels: Vec<Node>,
    master_name: String,
    _config_dir: TempDir,
}

impl SentinelCluster {
    /// Starts the five processes and waits until replication is up and every Sentinel knows
    /// the replica and the other Sentinels.
    ///
    /// # Panics
    ///
    /// If a program is missing ("run scripts/install-test-deps.sh") or the deployment does
    /// not settle within 30 s.
    #[must_use]
    pub fn start(master_name: &str) -> Self {
        // Every process works in here: a replica writes the snapshot it receives to its
        // working directory, where a later plain `redis-server` would load it.
        let config_dir = TempDir::new();
        let dir = config_dir.path();
        let primary = process::on_a_free_port("redis-server", |port| start_redis(dir, port, None));
        let replica = process::on_a_free_port("redis-server", |port| {
            start_redis(dir, port, Some(primary.port))
        });
        wait_until("the replica to sync", || replicating(replica.port));
        let sentinels = (0..SENTINELS)
            .map(|index| {
                process::on_a_free_port("redis-sentinel", |port| {
                    let config = config_dir.path().join(format!("sentinel-{index}.conf"));
                    start_sentinel(&config, port, master_name, primary.port)
                })
            })
            .collect::<Vec<_>>();
        let cluster = Self {
            redis_nodes: [primary, replica],
            primary: 0,
            sentinels,
            master_name: master_name.to_owned(),
            _config_dir: config_dir,
        };
        wait_until("the sentinels to discover each other", || {
            cluster.sentinels_settled()
        });
        cluster
    }

    /// The name the Sentinels monitor the primary under.
    #[must_use]
    pub fn master_name(&self) -> &str {
        &self.master_name
    }

    /// The Sentinels' addresses, `127.0.0.1:<port>`.
    #[must_use]
    pub fn sentinel_nodes(&self) -> Vec<String> {
        let ports = self.sentinels.iter().map(|node| node.port);
        ports.map(|port| format!("127.0.0.1:{port}")).collect()
    }

    /// The current primary's port.
    #[must_use]
    pub fn primary_port(&self) -> u16 {
        self.redis_nodes[self.primary].port
    }

    /// The current replica's port.
    #[must_use]
    pub fn replica_port(&self) -> u16 {
        self.redis_nodes[1 - self.primary].port
    }

    /// `redis://127.0.0.1:<primary port>`: the URL a client without Sentinel would use.
    #[must_use]
    pub fn primary_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.primary_port())
    }

    /// Asks a Sentinel to fail over (`SENTINEL FAILOVER`) and waits until the replica calls
    /// itself primary, every Sentinel names it, and the old primary replicates from it.
    ///
    /// # Panics
    ///
    /// If the Sentinel refuses or the failover does not finish within 30 s.
    pub fn failover(&mut self) {
        let reply = command(
            self.sentinels[0].port,
            &["SENTINEL", "FAILOVER", &self.master_name],
        );
        assert_eq!(
            reply,
            Some(Reply::Text("OK".into())),
            "SENTINEL FAILOVER refused"
        );
        let promoted = 1 - self.primary;
        let new_port = self.redis_nodes[promoted].port;
        let old_port = self.redis_nodes[self.primary].port;
        wait_until("the replica to become primary", || {
            info_field(new_port, "replication", "role").as_deref() == Some("master")
                && self
                    .sentinels
                    .iter()
                    .all(|sentinel| self.primary_according_to(sentinel.port) == Some(new_port))
                && replicating(old_port)
        });
        self.primary = promoted;
    }

    /// The primary's port as the Sentinel on `port` names it.
    fn primary_according_to(&self, port: u16) -> Option<u16> {
        let args = ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &self.master_name];
        let Some(Reply::Array(address)) = command(port, &args) else {
            return None;
        };
        address.get(1)?.text()?.parse().ok()
    }

    /// Whether every Sentinel knows the replica and both other Sentinels, so that any of them
    /// can lead a failover.
    fn sentinels_settled(&self) -> bool {
        self.sentinels.iter().all(|sentinel| {
            let field = |name: &str| {
                let args = ["SENTINEL", "MASTER", &self.master_name];
                let Some(Reply::Array(fields)) = command(sentinel.port, &args) else {
                    return None;
                };
                let at = fields.iter().position(|f| f.text() == Some(name))?;
                fields.get(at + 1)?.text()?.parse::<usize>().ok()
            };
            field("num-slaves") == Some(1) && field("num-other-sentinels") == Some(SENTINELS - 1)
        })
    }
}

/// Starts a `redis-server` without persistence on `port`, a replica of `replica_of` if given,
/// working in `dir` (its own snapshot file, so nothing lands in the test's directory).
fn start_redis(dir: &std::path::Path, port: u16, replica_of: Option<u16>) -> Option<Node> {
    let mut redis = Command::new("redis-server");
    redis
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(["--dbfilename", &format!("redis-{port}.rdb")]);
    if let Some(primary) = replica_of {
        redis.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
    }
    let mut node = Node {
        child: process::spawn(&mut redis, INSTALL),
        port,
    };
    let up = process::wait_ready(&mut node.child, || {
        command(port, &["PING"]) == Some(Reply::Text("PONG".into()))
    });
    up.then_some(node)
}

/// Starts a `redis-sentinel` on `port` monitoring the primary on `primary_port`, with short
/// timings so a test's failover takes seconds.
fn start_sentinel(
    config: &std::path::Path,
    port: u16,
    master_name: &str,
    primary_port: u16,
) -> Option<Node> {
    let text = format!(
        "port {port}\nbind 127.0.0.1\n\
         sentinel monitor {master_name} 127.0.0.1 {primary_port} 2\n\
         sentinel down-after-milliseconds {master_name} 1000\n\
         sentinel failover-timeout {master_name} 10000\n\
         sentinel parallel-syncs {master_name} 1\n"
    );
    std::fs::write(config, text).expect("write a sentinel config into the temp dir");
    let mut sentinel = Command::new("redis-sentinel");
    sentinel.arg(config);
    if let Some(dir) = config.parent() {
        sentinel.current_dir(dir);
    }
    let mut node = Node {
        child: process::spawn(&mut sentinel, INSTALL),
        port,
    };
    let up = process::wait_ready(&mut node.child, || {
        command(port, &["PING"]) == Some(Reply::Text("PONG".into()))
    });
    up.then_some(node)
}

/// Whether the Redis on `port` is a replica whose link to its primary is up.
fn replicating(port: u16) -> bool {
    info_field(port, "replication", "master_link_status").as_deref() == Some("up")
}

/// Polls `settled` until it holds.
///
/// # Panics
///
/// After [`SETTLE_TIMEOUT`], naming `what` was awaited.
fn wait_until(what: &str, mut settled: impl FnMut() -> bool) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while !settled() {
        assert!(
            Instant::now() < deadline,
            "timed out after {SETTLE_TIMEOUT:?} waiting for {what}"
        );
        std::thread::sleep(POLL_EVERY);
    }
}
