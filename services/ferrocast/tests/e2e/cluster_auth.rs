//! The cluster's credentials: its internal gRPC ports answer only this cluster's nodes, each
//! only for itself (the calls, used by the cluster test), and no role starts without a long
//! enough cluster secret or shows one.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use ferrocast_proto::auth::{ClusterSecret, NodeCredential, Role};
use ferrocast_proto::control::control_client::ControlClient;
use ferrocast_proto::control::lookup_stream_request::By;
use ferrocast_proto::control::{
    AuthorizePublishRequest, EndPublishRequest, HeartbeatRequest, LookupStreamRequest, NodeRole,
};
use ferrocast_proto::relay::SubscribeRequest;
use ferrocast_proto::relay::relay_client::RelayClient;
use tonic::Code;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

use crate::support::wait_for;

/// Runs `future` on a runtime of its own: these tests are synchronous.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

pub(crate) fn credential(secret: &str, role: Role, node_id: &str) -> NodeCredential {
    ClusterSecret::new(secret)
        .expect("a long secret")
        .credential(role, node_id)
        .expect("a valid node id")
}

/// Sends `credential`, or nothing.
fn presenting(credential: Option<NodeCredential>) -> impl Interceptor + Clone {
    move |request| match &credential {
        Some(credential) => credential.clone().call(request),
        None => Ok(request),
    }
}

async fn channel(url: &str) -> Channel {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .expect("a URL")
        .timeout(Duration::from_secs(5));
    tokio::time::timeout(Duration::from_secs(5), endpoint.connect())
        .await
        .expect("connected within 5 s")
        .expect("connected")
}

fn code<T>(answer: Result<T, tonic::Status>) -> Code {
    answer.err().map_or(Code::Ok, |status| status.code())
}

/// What control answers, to a caller presenting `credential`, for each method used against
/// origin-1: placing a publish on it, ending its publish, heartbeating as it (draining), and
/// a lookup of the stream.
pub(crate) fn calls_against_origin_1(
    control_url: &str,
    credential: Option<NodeCredential>,
    (stream_id, key, epoch): (&str, &str, u64),
) -> [Code; 4] {
    block_on(async {
        let channel = channel(control_url).await;
        let mut control = ControlClient::with_interceptor(channel, presenting(credential));
        let authorize = AuthorizePublishRequest {
            app: "live".into(),
            stream_key: key.into(),
            origin_id: "origin-1".into(),
        };
        let end = EndPublishRequest {
            stream_id: stream_id.into(),
            epoch,
        };
        let heartbeat = HeartbeatRequest {
            node_id: "origin-1".into(),
            role: NodeRole::Origin.into(),
            draining: true,
            ..HeartbeatRequest::default()
        };
        let lookup = LookupStreamRequest {
            by: Some(By::StreamId(stream_id.into())),
        };
        [
            code(control.authorize_publish(authorize).await),
            code(control.end_publish(end).await),
            code(control.heartbeat(heartbeat).await),
            code(control.lookup_stream(lookup).await),
        ]
    })
}

/// What an origin's relay answers to a `Subscribe` presenting `credential`.
pub(crate) fn subscribe_code(
    relay_url: &str,
    credential: Option<NodeCredential>,
    stream_id: &str,
) -> Code {
    block_on(async {
        let mut relay =
            RelayClient::with_interceptor(channel(relay_url).await, presenting(credential));
        let request = SubscribeRequest {
            stream_id: stream_id.into(),
        };
        code(relay.subscribe(request).await)
    })
}

/// Runs `ferrocast <role>` with `env` until it exits (within 20 s); returns its exit success
/// and what it wrote to stderr.
fn start_and_exit(role: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocast"))
        .arg(role)
        .env("FERROCAST_OPS_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ferrocast");
    let status = wait_for("ferrocast to exit", Duration::from_secs(20), || {
        child.try_wait().expect("try_wait")
    });
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr);
    (status.success(), stderr)
}

/// Asserts that `ferrocast <role>` with `env` exits with an error saying each of `expected`,
/// and shows none of the values it was given.
fn refuses_to_start(role: &str, env: &[(&str, &str)], expected: &[&str]) {
    let (succeeded, stderr) = start_and_exit(role, env);
    assert!(!succeeded, "{role} started with {env:?}");
    for part in expected {
        assert!(stderr.contains(part), "{role}: no {part:?} in:\n{stderr}");
    }
    for (_, secret) in env {
        assert!(
            !stderr.contains(secret),
            "{role} showed a secret:\n{stderr}"
        );
    }
}

#[test]
fn no_role_starts_without_long_secrets_and_none_shows_them() {
    let short_secret = (
        "FERROCAST_CLUSTER_SECRET",
        "0123456789abcdef0123456789abcde",
    );
    let good_secret = (
        "FERROCAST_CLUSTER_SECRET",
        "0123456789abcdef0123456789abcdef",
    );
    let short_token = (
        "FERROCAST_CONTROL__ADMIN_TOKEN",
        "admin-token-0123456789abcdef-xy",
    );
    refuses_to_start("origin", &[], &["cluster_secret is not set"]);
    refuses_to_start(
        "edge",
        &[short_secret],
        &["cluster_secret has 31 characters", "at least 32"],
    );
    // Both bad keys are named at once.
    refuses_to_start(
        "control",
        &[short_secret, short_token],
        &[
            "cluster_secret has 31 characters",
            "admin_token must be at least 32",
        ],
    );
    refuses_to_start(
        "control",
        &[good_secret],
        &["admin_token must be at least 32"],
    );
}
