//! Signed webhooks from the real cluster, two control replicas on one Redis, driven by real
//! ffmpeg publishes of a recorded stream: `stream.active`, `stream.disconnected`,
//! `stream.idle` and `recording.ready` arrive in order, each verifying; with the receiver's
//! port closed for 20 s everything arrives afterwards, once; an origin killed with SIGKILL (no
//! EndPublish) is still reported disconnected, then idle, and its recording is still ended
//! by control and announced ready.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrocast_control::webhooks::verify;
use serde_json::Value;

use crate::support::cluster::LocalCluster;
use crate::support::faults::{metric_samples, signal};
use crate::support::http::request;
use crate::support::media::{finish, publish_clip};
use crate::support::wait_for;

const SECRET: &str = "whsec-e2e-0123456789abcdef";

/// One request the receiver got: its event id header, whether it verified, its body.
#[derive(Debug, Clone)]
struct Hook {
    id_header: String,
    verified: bool,
    body: Value,
}

impl Hook {
    fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
    fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or_default()
    }
    fn epoch(&self) -> u64 {
        self.body["data"]["epoch"].as_u64().unwrap_or_default()
    }
}

/// A plain HTTP/1.1 receiver on a loopback port that can be closed and opened again.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Hook>>>,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut receiver = Self {
            port,
            got: Arc::default(),
            running: None,
        };
        receiver.serve(listener);
        receiver
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (got, stopping) = (self.got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(hook) = answer(stream) {
                            got.lock().unwrap().push(hook);
                        }
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        // A non-blocking accept loop that can be stopped: poll the flag.
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(error) => panic!("accept: {error}"),
                }
            }
        });
        self.running = Some((stop, thread));
    }

    /// Closes the port: connections are refused until [`Self::restart`].
    fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::Relaxed);
            thread.join().unwrap();
        }
    }

    fn restart(&mut self) {
        self.serve(TcpListener::bind(("127.0.0.1", self.port)).unwrap());
    }

    fn hooks(&self) -> Vec<Hook> {
        self.got.lock().unwrap().clone()
    }

    fn wait_for(&self, count: usize, deadline: Duration) -> Vec<Hook> {
        wait_for(&format!("{count} webhooks"), deadline, || {
            let hooks = self.hooks();
            (hooks.len() >= count).then_some(hooks)
        })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one request (headers, then a Content-Length body), answers 204 and closes.
fn answer(mut stream: TcpStream) -> Option<Hook> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut data = Vec::new();
    let mut buffer = [0; 8192];
    let head_end = loop {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().ok()?;
    while data.len() < head_end + length {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
    }
    let body = &data[head_end..head_end + length];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = verify(SECRET, &header("ferrocast-signature"), body, now, 300);
    stream
        .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        .ok()?;
    Some(Hook {
        id_header: header("ferrocast-event-id"),
        verified,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    })
}

fn kinds(hooks: &[Hook]) -> Vec<&str> {
    hooks.iter().map(Hook::kind).collect()
}

/// Events per broadcast: three of the stream's lifecycle and its recording's.
const PER_BROADCAST: usize = 4;

/// One broadcast's events, for `stream_id`, from `origin`, under one epoch, then its
/// recording ready at the broadcast's length.
fn assert_session(hooks: &[Hook], stream_id: &str, origin: &str) -> u64 {
    assert_eq!(
        kinds(hooks),
        [
            "stream.active",
            "stream.disconnected",
            "stream.idle",
            "recording.ready"
        ],
        "{hooks:?}"
    );
    let epoch = hooks[0].epoch();
    for hook in &hooks[..3] {
        assert_eq!(hook.epoch(), epoch, "{hook:?}");
        assert_eq!(hook.body["data"]["stream_id"], stream_id, "{hook:?}");
        assert_eq!(hook.body["data"]["origin_id"], origin, "{hook:?}");
        assert_eq!(hook.id(), format!("{}:{stream_id}:{epoch}", hook.kind()));
    }
    let recording = &hooks[3].body["data"];
    assert_eq!(recording["stream_id"], stream_id, "{recording}");
    assert_eq!(recording["state"], "ready", "{recording}");
    let id = recording["id"].as_str().expect("a recording id");
    assert_eq!(hooks[3].id(), format!("recording.ready:{id}"));
    let duration = recording["duration_s"].as_f64().unwrap_or_default();
    assert!(duration >= 2.0, "a recording of the broadcast: {recording}");
    epoch
}

#[test]
fn webhooks_follow_real_publishes_through_two_control_replicas() {
    let mut receiver = Receiver::start();
    let targets = format!(
        r#"[{{url="http://127.0.0.1:{}/hook",secret="{SECRET}"}}]"#,
        receiver.port
    );
    let cluster = LocalCluster::start_with(&[
        ("RECONNECT_WINDOW", "2s"),
        ("CONTROL_REPLICAS", "2"),
        ("WEBHOOK_TARGETS", &targets),
        ("WEBHOOK_RETRY_MAX", "2s"),
        ("RECORDINGS_REAP_INTERVAL", "500ms"),
    ]);
    let (stream_id, playback_id, key) = cluster.create_stream("webhooks");
    // Recorded from the next publish on.
    let changed = request(
        "PATCH",
        &format!("{}/v1/streams/{stream_id}", cluster.var("ADMIN_URL")),
        &[(
            "Authorization",
            &format!("Bearer {}", cluster.var("ADMIN_TOKEN")),
        )],
        r#"{"recording_retention":"1h"}"#,
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    let ingest = |n: u32| format!("{}/{key}", cluster.var(&format!("ORIGIN_RTMP_{n}")));

    // An 8 s publish to origin 1, ended by the encoder.
    let (ok, errors) = finish(publish_clip(&ingest(1), 0));
    assert!(ok, "ffmpeg: {errors}");
    let hooks = receiver.wait_for(PER_BROADCAST, Duration::from_secs(30));
    let first = assert_session(&hooks, &stream_id, "origin-1");
    assert_eq!(hooks[0].body["data"]["playback_id"], playback_id);

    // The receiver's port closed for 20 s while another publish (to origin 2) comes and goes.
    receiver.stop();
    let down_at = Instant::now();
    let (ok, errors) = finish(publish_clip(&ingest(2), 0));
    assert!(ok, "ffmpeg: {errors}");
    std::thread::sleep(Duration::from_secs(20).saturating_sub(down_at.elapsed()));
    assert_eq!(
        receiver.hooks().len(),
        PER_BROADCAST,
        "nothing arrives while the port is closed"
    );
    receiver.restart();
    let hooks = receiver.wait_for(2 * PER_BROADCAST, Duration::from_secs(30));
    let second = assert_session(&hooks[PER_BROADCAST..], &stream_id, "origin-2");
    assert!(second > first);

    // Origin 1 killed mid-publish: no EndPublish; its lease lapses and control notices.
    let publisher = publish_clip(&ingest(1), -1);
    receiver.wait_for(2 * PER_BROADCAST + 1, Duration::from_secs(30));
    // A few segments into the recording before the kill.
    std::thread::sleep(Duration::from_secs(8));
    let killed_at = Instant::now();
    signal(cluster.var("ORIGIN_PID_1"), "KILL");
    let hooks = receiver.wait_for(3 * PER_BROADCAST, Duration::from_secs(40));
    eprintln!(
        "origin SIGKILL to recording.ready: {:.1} s (lease_ttl 10s + sweep + 2s window + reap)",
        killed_at.elapsed().as_secs_f64()
    );
    let third = assert_session(&hooks[2 * PER_BROADCAST..], &stream_id, "origin-1");
    assert!(third > second);
    let _ = finish(publisher);

    // Every one verified and came once; the two replicas delivered twelve in all between them.
    for hook in &hooks {
        assert!(hook.verified, "signature did not verify: {hook:?}");
        assert_eq!(hook.id_header, hook.id());
    }
    let mut ids: Vec<&str> = hooks.iter().map(Hook::id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        3 * PER_BROADCAST,
        "an event came twice: {:?}",
        kinds(&hooks)
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        receiver.hooks().len(),
        3 * PER_BROADCAST,
        "an event came again later"
    );
    let delivered = |ops: &str| -> f64 {
        metric_samples(ops, "ferrocast_control_webhook_attempts_total", |_| true)
            .iter()
            .filter(|(series, _)| series.contains(r#"outcome="delivered""#))
            .map(|(_, value)| value)
            .sum()
    };
    let (one, two) = (
        delivered(cluster.var("CONTROL_OPS")),
        delivered(cluster.var("CONTROL_OPS_2")),
    );
    eprintln!("deliveries by replica: {one} + {two}");
    assert_eq!(one + two, (3 * PER_BROADCAST) as f64);
}
