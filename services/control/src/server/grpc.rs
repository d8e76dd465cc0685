//! The gRPC `Control` service: publish authorization with placement leases, heartbeats, and
//! stream lookup. Refusals are status codes the client maps back to
//! [`AuthError`](ferrocast_control_client::AuthError); no message ever carries a stream key.
//!
//! Who calls comes from the cluster credential the server's interceptor verified, never from
//! the body: an origin authorizes, ends and renews only its own publishes, and registers only
//! itself. Node ids in bodies stay for compatibility and must equal the credential's.

use std::sync::Arc;
use std::time::Duration;

use ferrocast_base::{Epoch, PlaybackId, StreamId};
use ferrocast_control_client::RecordingGrant;
use ferrocast_proto::auth::{self, NodeIdentity, caller};
use ferrocast_proto::control::control_server::Control;
use ferrocast_proto::control::lookup_stream_request::By;
use ferrocast_proto::control::{
    AuthorizePublishRequest, AuthorizePublishResponse, EndPublishRequest, EndPublishResponse,
    HeartbeatRequest, HeartbeatResponse, LookupStreamRequest, LookupStreamResponse,
};
use tonic::{Request, Response, Status};

use super::config::millis;
use super::nodes::{NodeRecord, Role};
use super::repo::RepoError;
use super::{Shared, metrics, now_ms};
use crate::credentials::{claimed_stream_id, key_matches};
use crate::lease::{Acquired, Claim, HeldStream, LeaseStoreError, Release};
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
            self.shared
                .leases
                .renew(claim, &held)
                .await
                .map_err(lease_unavailable)?;
        }
        Ok(Response::new(HeartbeatResponse {
            ttl_ms: millis(config.heartbeat_ttl()),
        }))
    }

    async fn lookup(
        &self,
        request: Request<LookupStreamRequest>,
    ) -> Result<Response<LookupStreamResponse>, Status> {
        // Any node of the cluster: edges find relays, origins resolve playback ids for RTMP play.
        caller(&request)?.require(&[auth::Role::Origin, auth::Role::Edge], "LookupStream")?;
        let repo = &self.shared.repo;
        let record = match request.into_inner().by {
            Some(By::PlaybackId(id)) => {
                check_id("playback_id", &id)?;
                repo.stream_by_playback(&PlaybackId::new(id)).await
            }
            Some(By::StreamId(id)) => {
                check_id("stream_id", &id)?;
                repo.stream(&StreamId::new(id)).await
            }
            None => return Err(Status::invalid_argument("give playback_id or stream_id")),
        }
        .map_err(unavailable)?;
        let Some(record) = record else {
            return Ok(Response::new(LookupStreamResponse::default()));
        };
        let lease = repo.lease(&record.id).await.map_err(unavailable)?;
        let mut response = LookupStreamResponse {
            found: true,
            stream_id: record.id.into_string(),
            playback_id: record.playback_id.into_string(),
            ..LookupStreamResponse::default()
        };
        if let Some(lease) = lease {
            let relay_url = if lease.relay_url.is_empty() {
                let node = repo.node(&lease.origin_id).await.map_err(unavailable)?;
                node.map(|n| n.relay_url).unwrap_or_default()
            } else {
                lease.relay_url
            };
            response.live = true;
            response.origin_id = lease.origin_id;
            response.relay_url = relay_url;
            response.epoch = lease.epoch.get();
        }
        Ok(Response::new(response))
    }
}
