//! Operating the cluster: every metric the Grafana dashboard and the alert rules query is
//! exposed by a running node, and SIGTERM drains an origin without losing a listed segment.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ingest::segment_uris;
use crate::support::cluster::LocalCluster;
use crate::support::hls::media_text;
use crate::support::http::{get, request};
use crate::support::media::publish_clip;
use crate::support::wait_for;
use crate::viewers::watch_flv;

fn repo_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Metric names in `text`: identifiers starting with `ferrocast_` or `process_`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = BTreeSet::new();
    for prefix in ["ferrocast_", "process_"] {
        for (at, _) in text.match_indices(prefix) {
            if text[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let name: String = text[at..].chars().take_while(|&c| is_ident(c)).collect();
            names.insert(name);
        }
    }
    names
}

/// Every `expr` string in the dashboard JSON.
fn dashboard_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("expr" | "query", serde_json::Value::String(text)) => out.push(text.clone()),
                    _ => dashboard_exprs(child, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| dashboard_exprs(item, out)),
        _ => {}
    }
}

/// The metric names each exposition line starts with.
fn exposed_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

fn create_stream(cluster: &LocalCluster) -> (String, String, String) {
    let auth = format!("Bearer {}", cluster.var("ADMIN_TOKEN"));
    let created = request(
        "POST",
        &format!("{}/v1/streams", cluster.var("ADMIN_URL")),
        &[("Authorization", &auth)],
        r#"{"name":"operations test"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let stream: serde_json::Value = serde_json::from_slice(&created.body).unwrap();
    let field = |name: &str| stream[name].as_str().unwrap().to_owned();
    (field("id"), field("playback_id"), field("stream_key"))
}

#[test]
fn every_metric_the_dashboard_and_alerts_query_is_exposed() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&repo_file("deploy/grafana/dashboards/ferrocast.json")).unwrap();
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut exprs);
    let mut wanted = metric_names(&exprs.join("\n"));
    wanted.extend(metric_names(&repo_file("deploy/prometheus/alerts.yml")));
    assert!(wanted.len() >= 20, "too few metrics referenced: {wanted:?}");

    let cluster = LocalCluster::start();
    let (_, playback_id, key) = create_stream(&cluster);
    let mut publisher = publish_clip(&format!("{}/{key}", cluster.var("ORIGIN_RTMP_1")), -1);
    let edge = cluster.var("EDGE_URL_1");
    let playlist_url = format!("{edge}/hls/{playback_id}/index.m3u8");
    let playlist = wait_for("two segments", Duration::from_secs(40), || {
        let text = media_text(&playlist_url)?;
        (segment_uris(&text).len() >= 2).then_some(text)
    });
    for uri in segment_uris(&playlist) {
        assert_eq!(get(&format!("{edge}/hls/{playback_id}/{uri}")).status, 200);
    }
    let received = watch_flv(
        &format!("{edge}/live/{playback_id}.flv"),
        Duration::from_secs(3),
    );
    assert!(received.keyframes >= 1, "{received:?}");

    // Two scrapes of the origin at least a second apart give the per-stream bitrate a window.
    let nodes = ["CONTROL_OPS", "ORIGIN_OPS_1", "EDGE_OPS_1"];
    let _ = get(&format!("{}/metrics", cluster.var("ORIGIN_OPS_1")));
    std::thread::sleep(Duration::from_millis(1100));
    let mut exposed = BTreeSet::new();
    for node in nodes {
        let response = get(&format!("{}/metrics", cluster.var(node)));
        assert_eq!(response.status, 200, "{node}");
        let text = response.text();
        assert!(text.contains("ferrocast_build_info{"), "{node}: {text}");
        exposed.extend(exposed_names(&text));
    }
    let _ = publisher.kill();
    let _ = publisher.wait();

    let missing: Vec<&String> = wanted
        .iter()
        .filter(|name| !exposed.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "queried by the dashboard or alerts but not exposed: {missing:?}\nexposed: {exposed:?}"
    );
}

/// `#EXTINF` durations in seconds.
fn durations(playlist: &str) -> Vec<f64> {
    playlist
        .lines()
        .filter_map(|line| line.strip_prefix("#EXTINF:"))
        .map(|rest| rest.trim_end_matches(',').parse().unwrap())
        .collect()
}

fn is_alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .status()
        .unwrap()
        .success()
}

#[test]
fn sigterm_drains_an_origin_without_losing_a_listed_segment() {
    let cluster = LocalCluster::start_with(&[
        ("ORIGIN_DRAIN_PUBLISH_DEADLINE", "3s"),
        ("ORIGIN_DRAIN_FLUSH_DEADLINE", "5s"),
    ]);
    let deadline = Duration::from_secs(3 + 5);
    let (_, playback_id, key) = create_stream(&cluster);
    let mut publisher = publish_clip(&format!("{}/{key}", cluster.var("ORIGIN_RTMP_1")), -1);
    let edge = cluster.var("EDGE_URL_1").to_owned();
    let playlist_url = format!("{edge}/hls/{playback_id}/index.m3u8");
    let listed = |min: usize| {
        wait_for("segments", Duration::from_secs(40), || {
            let text = media_text(&playlist_url)?;
            (segment_uris(&text).len() >= min).then_some(text)
        })
    };
    let before = segment_uris(&listed(2)).len();

    // Every listed segment must be servable at every moment of the drain.
    let stop = Arc::new(AtomicBool::new(false));
    let missing = Arc::new(Mutex::new(Vec::<String>::new()));
    let checker = {
        let (stop, missing) = (stop.clone(), missing.clone());
        let (edge, playlist_url, playback_id) =
            (edge.clone(), playlist_url.clone(), playback_id.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(text) = media_text(&playlist_url) {
                    for uri in segment_uris(&text) {
                        let status = get(&format!("{edge}/hls/{playback_id}/{uri}")).status;
                        if status != 200 {
                            missing.lock().unwrap().push(format!("{uri}: {status}"));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    // SIGTERM just after a segment boundary, so the publish is closed mid-segment.
    listed(before + 1);
    let pid = cluster.var("ORIGIN_PID_1").to_owned();
    let signalled = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let readyz = format!("{}/readyz", cluster.var("ORIGIN_OPS_1"));
    wait_for("readiness to go false", Duration::from_secs(2), || {
        (get(&readyz).status == 503).then_some(())
    });

    wait_for(
        "the origin to exit",
        deadline + Duration::from_secs(3),
        || (!is_alive(&pid)).then_some(()),
    );
    let exited_after = signalled.elapsed();
    assert!(
        exited_after <= deadline + Duration::from_secs(1),
        "exited after {exited_after:?}"
    );
    assert!(
        exited_after >= Duration::from_secs(3),
        "publishes run on until the publish deadline; exited after {exited_after:?}"
    );
    wait_for(
        "the encoder to be disconnected",
        Duration::from_secs(10),
        || publisher.try_wait().unwrap(),
    );

    // The open segment is flushed: closed about a second into it, it is shorter than a GOP.
    let last = wait_for("the flushed segment", Duration::from_secs(10), || {
        let text = media_text(&playlist_url)?;
        durations(&text)
            .last()
            .is_some_and(|&last| last < 1.9)
            .then_some(text)
    });
    // The drained origin's encoder is told to reconnect elsewhere: no ENDLIST is written for it.
    assert!(!last.contains("#EXT-X-ENDLIST"), "{last}");
    stop.store(true, Ordering::Relaxed);
    checker.join().unwrap();
    let missing = missing.lock().unwrap();
    assert!(
        missing.is_empty(),
        "listed segments not served during the drain: {missing:?}"
    );
    for uri in segment_uris(&last) {
        assert_eq!(
            get(&format!("{edge}/hls/{playback_id}/{uri}")).status,
            200,
            "{uri}"
        );
    }
    let log = std::fs::read_to_string(PathBuf::from(cluster.var("LOG_DIR")).join("origin-1.log"))
        .unwrap();
    assert!(
        log.contains("drain deadline reached; closing publishes"),
        "{log}"
    );
}

#[test]
fn ferrocast_drain_stops_the_process_on_this_host_and_waits_for_it() {
    let mut server = crate::support::server::dev().start();
    assert_eq!(get(&format!("{}/readyz", server.ops_url)).status, 200);
    let drained = Command::new(env!("CARGO_BIN_EXE_ferrocast"))
        .args(["drain", "--ops-url", &server.ops_url, "--timeout", "20s"])
        .output()
        .unwrap();
    assert!(
        drained.status.success(),
        "{}",
        String::from_utf8_lossy(&drained.stderr)
    );
    // The command returns only once the process is gone.
    assert!(
        !server.is_running(),
        "ferrocast drain returned before dev exited"
    );
}
