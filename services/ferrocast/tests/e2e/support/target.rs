//! The server a hostile case runs against: `ferrocast dev`, or the local cluster, where the
//! first origin takes the attack and publishes the victim, and the first edge serves it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::cluster::LocalCluster;
use super::http::request;
use super::server::{DevServer, dev};
use super::victim::Victim;
use super::wait_for;

enum Server {
    Dev(Box<DevServer>),
    Cluster(LocalCluster),
}

/// A running server with a stream for the victim and one for a fresh publish.
pub struct Target {
    server: Server,
    /// `host:port` of the RTMP listener under attack.
    pub rtmp_addr: String,
    /// `host:port` of the HTTP listener that serves the victim.
    pub http_addr: String,
    /// The RTMP application publishers use.
    pub app: String,
    /// Where the victim publishes, and where it is watched as HTTP-FLV.
    pub victim: (String, String),
    /// A second stream of the cluster for the fresh publish; `dev` has one stream only.
    fresh: Option<(String, String)>,
}

impl Target {
    /// `ferrocast dev` with the given settings.
    pub fn dev(env: &[(&str, &str)]) -> Self {
        let server = dev().start_with(env);
        let rtmp_addr = host_port(&server.rtmp_server);
        let http_addr = host_port(&server.flv_url);
        let victim = (server.publish_url.clone(), server.flv_url.clone());
        Self {
            server: Server::Dev(Box::new(server)),
            rtmp_addr,
            http_addr,
            app: "live".into(),
            victim,
            fresh: None,
        }
    }

    /// The local cluster (control, two origins, two edges, redis-server, s3s-fs).
    pub fn cluster() -> Self {
        let cluster = LocalCluster::start();
        let origin = cluster.var("ORIGIN_RTMP_1").to_owned();
        let edge = cluster.var("EDGE_URL_1").to_owned();
        let stream = || {
            let (playback_id, key) = create_stream(&cluster);
            let publish = format!("{origin}/{key}");
            (publish, format!("{edge}/live/{playback_id}.flv"))
        };
        let victim = stream();
        let fresh = Some(stream());
        Self {
            rtmp_addr: host_port(&origin),
            http_addr: host_port(&edge),
            app: "live".into(),
            server: Server::Cluster(cluster),
            victim,
            fresh,
        }
    }

    /// `dev` or `cluster`, for messages.
    pub fn name(&self) -> &'static str {
        match self.server {
            Server::Dev(_) => "dev",
            Server::Cluster(_) => "cluster",
        }
    }

    /// The processes under attack that are no longer running.
    pub fn dead(&mut self) -> Vec<String> {
        match &mut self.server {
            Server::Dev(server) => {
                let running = server.is_running();
                (!running)
                    .then(|| "ferrocast dev".to_owned())
                    .into_iter()
                    .collect()
            }
            Server::Cluster(cluster) => ["ORIGIN_PID_1", "EDGE_PID_1"]
                .into_iter()
                .filter(|pid| !is_alive(cluster.var(pid)))
                .map(|pid| format!("{pid} ({})", cluster.var(pid)))
                .collect(),
        }
    }

    /// What the processes under attack logged.
    pub fn log(&self) -> String {
        match &self.server {
            Server::Dev(server) => server.log(),
            Server::Cluster(cluster) => {
                let dir = PathBuf::from(cluster.var("LOG_DIR"));
                ["origin-1.log", "edge-1.log"]
                    .iter()
                    .map(|name| std::fs::read_to_string(dir.join(name)).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }

    /// Publishes a stream afresh (the victim's own in `dev`, once its publish has ended; a
    /// second one in the cluster) and waits for 30 frames of it; the reason if it fails.
    pub fn fresh_publish_plays(&self) -> Result<(), String> {
        let (publish, flv) = match (&self.server, &self.fresh) {
            (_, Some(fresh)) => fresh.clone(),
            (Server::Dev(server), None) => {
                // Its one stream is free again once the victim's publish has ended.
                wait_for(
                    "the victim's publish to end",
                    Duration::from_secs(15),
                    || server.log().contains("publish ended").then_some(()),
                );
                self.victim.clone()
            }
            (Server::Cluster(_), None) => unreachable!("the cluster always has a fresh stream"),
        };
        let fresh = std::panic::catch_unwind(|| Victim::start(&publish, &flv));
        let fresh = fresh.map_err(|panic| {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()));
            format!("a fresh publish did not play: {}", why.unwrap_or_default())
        })?;
        let _ = fresh.stop();
        Ok(())
    }
}

/// `host:port` of an `rtmp://` or `http://` URL.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

fn is_alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .status()
        .is_ok_and(|status| status.success())
}

/// Creates a stream through the admin API: its playback id and key.
fn create_stream(cluster: &LocalCluster) -> (String, String) {
    let auth = format!("Bearer {}", cluster.var("ADMIN_TOKEN"));
    let created = request(
        "POST",
        &format!("{}/v1/streams", cluster.var("ADMIN_URL")),
        &[("Authorization", &auth)],
        r#"{"name":"hostile input"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let stream: serde_json::Value = serde_json::from_slice(&created.body).expect("stream json");
    let field = |name: &str| stream[name].as_str().expect("string field").to_owned();
    (field("playback_id"), field("stream_key"))
}
