//! The gRPC `Control` service: publish authorization with placement leases, heartbeats,
//! stream lookup (with the playback policy) and the public playback signing keys
//! ([`lookup`]). Refusals are status codes the client maps back to
//! [`AuthError`](ferrocast_control_client::AuthError); no message ever carries a stream key.
//!
//! Who calls comes from the cluster credential the server's interceptor verified, never from
//! the body: an origin authorizes, ends and renews only its own publishes, and registers only
//! itself. Node ids in bodies stay for compatibility and must equal the credential's.

mod lookup;

use std::sync::Arc;
use std::time::Duration;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_control_client::RecordingGrant;
use ferrocast_proto::auth::{self, NodeIdentity, caller};
use ferrocast_proto::control::control_server::Control;
use ferrocast_proto::control::{
    AuthorizePublishRequest, AuthorizePublishResponse, EndPublishRequest, EndPublishResponse,
    GetSigningKeysRequest, GetSigningKeysResponse, HeartbeatRequest, HeartbeatResponse,
    LookupStreamRequest, LookupStreamResponse,
};
use tonic::{Request, Response, Status};

use super::config::millis;
use super::nodes::{NodeRecord, Role};
use super::repo::RepoError;
use super::webhooks::SessionStep;
use super::{Shared, metrics, now_ms, webhooks};
use crate::credentials::{claimed_stream_id, key_matches};
use crate::lease::{Acquired, Claim, HeldStream, LeaseStoreError, Release, Renewed};
use metrics::observed;

/// Bounds one heartbeat's work (and the Lua script it runs).
const MAX_HEARTBEAT_STREAMS: usize = 4096;

/// Bounds ids echoed into logs and keys.
const MAX_ID_LEN: usize = 128;

/// The `Control` gRPC service over the shared Redis state.
pub struct ControlService {
    shared: Arc<Shared>,
}

impl ControlService {
    /// The service.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// Redis trouble becomes `UNAVAILABLE`, so origins fail closed and may retry.
fn unavailable(error: RepoError) -> Status {
    metrics::redis_failed();
    tracing::warn!(%error, "control store error");
    match error {
        RepoError::Corrupt { .. } => Status::internal("control store holds a corrupt value"),
        _ => Status::unavailable("control store unavailable"),
    }
}

/// Lease store trouble: the lease store already counted the Redis failure.
fn lease_unavailable(error: LeaseStoreError) -> Status {
    tracing::warn!(%error, "lease store error");
    match error {
        LeaseStoreError::Corrupt(_) => Status::internal("control store holds a corrupt value"),
        LeaseStoreError::Unavailable(_) => Status::unavailable("control store unavailable"),
    }
}

fn check_id(what: &str, id: &str) -> Result<(), Status> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(Status::invalid_argument(format!(
            "{what} must be 1..={MAX_ID_LEN} bytes"
        )));
    }
    Ok(())
}

/// A node acts only for itself: the node a body names must be the caller's.
fn check_claim(what: &str, claimed: &str, caller: &NodeIdentity) -> Result<(), Status> {
    if claimed == caller.node_id {
        return Ok(());
    }
    // The claimed id is not logged: only the authenticated one is known to be true.
    tracing::warn!(
        node_id = caller.node_id,
        role = %caller.role,
        field = what,
        "call refused: the body names another node"
    );
    Err(Status::permission_denied(format!(
        "{what} must be the caller's own node id"
    )))
}

#[tonic::async_trait]
impl Control for ControlService {
    async fn authorize_publish(
        &self,
        request: Request<AuthorizePublishRequest>,
    ) -> Result<Response<AuthorizePublishResponse>, Status> {
        let call = async {
            let caller = caller(&request)?;
            caller.require(&[auth::Role::Origin], "AuthorizePublish")?;
            let request = request.into_inner();
            check_id("origin_id", &request.origin_id)?;
            check_claim("origin_id", &request.origin_id, &caller)?;
            // Only calls from an origin speaking for itself are publish decisions.
            let answer = self.authorize(&caller.node_id, request).await;
            metrics::publish_decided(&answer);
            answer
        };
        observed("authorize_publish", call).await
    }

    async fn end_publish(
        &self,
        request: Request<EndPublishRequest>,
    ) -> Result<Response<EndPublishResponse>, Status> {
        observed("end_publish", self.end(request)).await
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        observed("heartbeat", self.beat(request)).await
    }

    async fn lookup_stream(
        &self,
        request: Request<LookupStreamRequest>,
    ) -> Result<Response<LookupStreamResponse>, Status> {
        observed("lookup_stream", self.lookup(request)).await
    }

    async fn get_signing_keys(
        &self,
        request: Request<GetSigningKeysRequest>,
    ) -> Result<Response<GetSigningKeysResponse>, Status> {
        observed("get_signing_keys", self.signing_keys(request)).await
    }
}

impl ControlService {
    async fn authorize(
        &self,
        origin_id: &str,
        request: AuthorizePublishRequest,
    ) -> Result<Response<AuthorizePublishResponse>, Status> {
        let config = &self.shared.config;
        let repo = &self.shared.repo;
        // The app is neither echoed nor logged: a misconfigured encoder may put the key there.
        if request.app != config.publish_app {
            tracing::warn!(origin_id, "publish refused: wrong application");
            return Err(Status::invalid_argument("unknown application"));
        }
        // An overlong claim cannot name a stream; refusing it early keeps it out of logs.
        let claimed =
            claimed_stream_id(&request.stream_key).filter(|id| id.as_str().len() <= MAX_ID_LEN);
        let Some(stream_id) = claimed else {
            tracing::warn!(origin_id, "publish refused: malformed stream key");
            return Err(Status::not_found("unknown stream"));
        };
        let Some(record) = repo.stream(&stream_id).await.map_err(unavailable)? else {
            tracing::warn!(
                origin_id,
                stream_id = stream_id.as_str(),
                "publish refused: unknown stream"
            );
            return Err(Status::not_found("unknown stream"));
        };
        let key_is_right = record
            .key_hash()
            .is_some_and(|hash| key_matches(&request.stream_key, &hash));
        if !key_is_right {
            tracing::warn!(
                origin_id,
                stream_id = stream_id.as_str(),
                "publish refused: wrong stream key"
            );
            return Err(Status::permission_denied(format!(
                "wrong stream key for stream {stream_id}"
            )));
        }
        // An origin that never registered is allowed (it may publish before its first
        // heartbeat lands); lookups then take its relay URL from its later registration.
        let node = repo.node(origin_id).await.map_err(unavailable)?;
        if node.as_ref().is_some_and(|n| n.draining) {
            tracing::warn!(
                origin_id,
                stream_id = stream_id.as_str(),
                "publish refused: origin draining"
            );
            return Err(Status::unavailable(format!(
                "origin {origin_id} is draining"
            )));
        }
        let relay_url = node.map(|n| n.relay_url).unwrap_or_default();
        let claim = Claim {
            origin_id,
            relay_url: &relay_url,
        };
        let decision = self.shared.leases.acquire(&stream_id, claim).await;
        let epoch = match decision.map_err(lease_unavailable)? {
            Acquired::Granted { epoch, .. } => epoch,
            Acquired::Refused { holder_epoch } => {
                tracing::warn!(
                    origin_id,
                    stream_id = stream_id.as_str(),
                    holder_epoch = holder_epoch.get(),
                    "publish refused: already live"
                );
                return Err(Status::already_exists(format!(
                    "stream {stream_id} is already live"
                )));
            }
        };
        tracing::info!(
            origin_id,
            stream_id = stream_id.as_str(),
            epoch = epoch.get(),
            "publish authorized"
        );
        // Queued before answering, so the origin cannot end the publish before it is active.
        let session = webhooks::session(&record.id, record.playback_id.as_str(), epoch, origin_id);
        self.shared
            .webhooks
            .session_changed(SessionStep::Granted, &session)
            .await;
        // The session records by the stream's setting at its grant (ADR 21).
        let recordings = &self.shared.config.recordings;
        let recording = record
            .recording_retention
            .effective(recordings.retention)
            .map(|retention| RecordingGrant {
                retention,
                max_duration: recordings.max_duration,
            });
        let (recording_retention_ms, recording_max_duration_ms) =
            RecordingGrant::to_millis(recording);
        Ok(Response::new(AuthorizePublishResponse {
            stream_id: record.id.into_string(),
            playback_id: record.playback_id.into_string(),
            epoch: epoch.get(),
            recording_retention_ms,
            recording_max_duration_ms,
        }))
    }

    async fn end(
        &self,
        request: Request<EndPublishRequest>,
    ) -> Result<Response<EndPublishResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(&[auth::Role::Origin], "EndPublish")?;
        let request = request.into_inner();
        check_id("stream_id", &request.stream_id)?;
        let (stream_id, epoch) = (StreamId::new(request.stream_id), Epoch(request.epoch));
        let outcome = self
            .shared
            .leases
            .release(&stream_id, epoch, &caller.node_id)
            .await
            .map_err(lease_unavailable)?;
        if outcome == Release::HeldByAnother {
            tracing::warn!(
                node_id = caller.node_id,
                stream_id = stream_id.as_str(),
                epoch = epoch.get(),
                "end of publish refused: another origin holds the lease"
            );
            return Err(Status::permission_denied(format!(
                "stream {stream_id} epoch {epoch} is held by another origin"
            )));
        }
        let released = outcome == Release::Released;
        // The playback id is for the payload only: without it (Redis trouble) the session
        // already recorded at the grant is used.
        let playback_id = match self.shared.repo.stream(&stream_id).await {
            Ok(Some(record)) => record.playback_id.into_string(),
            _ => String::new(),
        };
        let session = webhooks::session(&stream_id, &playback_id, epoch, &caller.node_id);
        self.shared
            .webhooks
            .session_changed(SessionStep::Ended, &session)
            .await;
        tracing::info!(
            node_id = caller.node_id,
            stream_id = stream_id.as_str(),
            epoch = epoch.get(),
            released,
            "publish ended"
        );
        Ok(Response::new(EndPublishResponse {}))
    }

    async fn beat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        check_id("node_id", &request.node_id)?;
        check_claim("node_id", &request.node_id, &caller)?;
        if Role::reported(request.role) != Role::from(caller.role) {
            return Err(Status::permission_denied(format!(
                "an {} must heartbeat as one",
                caller.role
            )));
        }
        if request.streams.len() > MAX_HEARTBEAT_STREAMS {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_HEARTBEAT_STREAMS} streams per heartbeat"
            )));
        }
        let config = &self.shared.config;
        let repo = &self.shared.repo;
        let node = NodeRecord::from_heartbeat(&caller, &request, now_ms());
        repo.put_node(&node, config.node_ttl)
            .await
            .map_err(unavailable)?;
        // Only origins own leases: an edge echoing an epoch must not keep a dead origin's
        // stream placed.
        if node.role == Role::Origin {
            let held: Vec<HeldStream> = request
                .streams
                .iter()
                .filter(|s| s.epoch > 0)
                .map(|s| HeldStream {
                    stream_id: StreamId::new(s.stream_id.as_str()),
                    epoch: Epoch(s.epoch),
                    media_age: Duration::from_millis(s.media_age_ms),
                })
                .collect();
            let claim = Claim {
                origin_id: &node.node_id,
                relay_url: &node.relay_url,
            };
            // Lost and restored leases are logged and counted by the policy.
            let answers = self
                .shared
                .leases
                .renew(claim, &held)
                .await
                .map_err(lease_unavailable)?;
            for (stream, _) in held
                .iter()
                .zip(answers)
                .filter(|(_, a)| *a == Renewed::Restored)
            {
                let playback_id = match repo.stream(&stream.stream_id).await {
                    Ok(Some(record)) => record.playback_id.into_string(),
                    _ => String::new(),
                };
                let session =
                    webhooks::session(&stream.stream_id, &playback_id, stream.epoch, &node.node_id);
                self.shared
                    .webhooks
                    .session_changed(SessionStep::Restored, &session)
                    .await;
            }
        }
        Ok(Response::new(HeartbeatResponse {
            ttl_ms: millis(config.heartbeat_ttl()),
        }))
    }
}
