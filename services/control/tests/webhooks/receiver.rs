//! A webhook receiver on loopback, as a customer would write one: it checks each request's
//! signature with the target's secret and records what came. It can be stopped (its port
//! then refuses connections) and started again on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ferrocast_control::webhooks::{EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, verify};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Seconds a signature's timestamp may be away from the receiver's clock.
const TOLERANCE_SECS: u64 = 300;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `Ferrocast-Event-Id` header.
    pub id_header: String,
    /// The `Ferrocast-Event-Type` header.
    pub type_header: String,
    /// The body, as JSON.
    pub body: Value,
    /// Whether the signature verified with the secret.
    pub verified: bool,
}

impl Received {
    /// The body's `id`.
    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or_default()
    }

    /// The body's `type`.
    pub fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

#[derive(Clone)]
struct Shared {
    secret: String,
    got: Arc<Mutex<Vec<Received>>>,
    count: watch::Sender<usize>,
}

/// A running (or stopped) receiver; what it got survives restarts.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Shared,
    running: Option<(CancellationToken, JoinHandle<()>)>,
}

impl Receiver {
    /// Starts on a free loopback port, checking signatures with `secret`.
    pub async fn start(secret: &str) -> Self {
        let (count, _) = watch::channel(0);
        let shared = Shared {
            secret: secret.to_owned(),
            got: Arc::default(),
            count,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut receiver = Self {
            addr,
            shared,
            running: None,
        };
        receiver.serve(listener);
        receiver
    }

    /// The URL to register.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let stop = CancellationToken::new();
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(self.shared.clone());
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                    .unwrap();
            }
        });
        self.running = Some((stop, task));
    }

    /// Stops listening: connections to its port are refused until [`Self::restart`].
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            stop.cancel();
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .unwrap()
                .unwrap();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }

    /// Waits until `count` requests in all have arrived, failing after `deadline`.
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> Vec<Received> {
        let mut seen = self.shared.count.subscribe();
        let waited = tokio::time::timeout(deadline, seen.wait_for(|n| *n >= count)).await;
        let got = self.received();
        assert!(
            waited.is_ok(),
            "timed out after {deadline:?} waiting for {count} webhooks; got {:?}",
            got.iter().map(Received::id).collect::<Vec<_>>()
        );
        got
    }
}

async fn hook(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = verify(
        &shared.secret,
        &header(SIGNATURE_HEADER),
        &body,
        now,
        TOLERANCE_SECS,
    );
    let received = Received {
        id_header: header(EVENT_ID_HEADER),
        type_header: header(EVENT_TYPE_HEADER),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified,
    };
    let count = {
        let mut got = shared.got.lock().unwrap();
        got.push(received);
        got.len()
    };
    shared.count.send_replace(count);
    StatusCode::NO_CONTENT
}
