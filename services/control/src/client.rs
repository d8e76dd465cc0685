//! The control client that origins and edges use: publish authorization (failing closed),
//! playback lookup (cached), stream owners for the relay, and heartbeats. Every call carries
//! the node's cluster credential.

mod cache;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrocast_live::{LiveError, StreamOwners};
use ferrocast_proto::auth::{NodeCredential, NodeIdentity, Role};
use ferrocast_proto::control::control_client::ControlClient as GrpcClient;
use ferrocast_proto::control::lookup_stream_request::By;
use ferrocast_proto::control::{
    AuthorizePublishRequest, EndPublishRequest, HeartbeatRequest, HeartbeatResponse,
    LookupStreamRequest, LookupStreamResponse,
};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use crate::credentials::claimed_stream_id;
use crate::{AuthError, DirectoryError, PublishAuthorizer, PublishGrant, StreamDirectory};
use cache::PlaybackCache;

/// The gRPC client with this node's credential on every call.
type Grpc = GrpcClient<InterceptedService<Channel, NodeCredential>>;

/// How a [`ControlClient`] behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// This node's cluster credential: control learns the node's role and id from it.
    pub credential: NodeCredential,
    /// Deadline of every call, connecting included.
    pub timeout: Duration,
    /// Most playback ids remembered.
    pub playback_cache_capacity: usize,
    /// How long a found playback id is remembered (ids never change; this only bounds how
    /// long a deleted stream keeps resolving).
    pub playback_hit_ttl: Duration,
    /// How long an unknown playback id is remembered.
    pub playback_miss_ttl: Duration,
}

impl ClientOptions {
    /// Defaults for the node `credential` names: 2 s deadline, 10 000 cached playback ids,
    /// hits for 5 minutes, misses for 3 seconds.
    pub fn new(credential: NodeCredential) -> Self {
        Self {
            credential,
            timeout: Duration::from_secs(2),
            playback_cache_capacity: 10_000,
            playback_hit_ttl: Duration::from_secs(300),
            playback_miss_ttl: Duration::from_secs(3),
        }
    }
}

/// Why a control call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The endpoint URL is not usable.
    #[error("invalid control endpoint: {0}")]
    Endpoint(String),
    /// No answer within the deadline.
    #[error("control did not answer within {0:?}")]
    Timeout(Duration),
    /// Control answered with an error status, or the transport failed.
    #[error("control answered {code:?}: {message}")]
    Status {
        /// The gRPC status code.
        code: Code,
        /// The status message (never contains a key).
        message: String,
    },
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        ClientError::Status {
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

/// A client of the control service over one lazily connected tonic channel.
#[derive(Clone)]
pub struct ControlClient {
    grpc: Grpc,
    identity: NodeIdentity,
    timeout: Duration,
    playback: Arc<PlaybackCache>,
}

impl ControlClient {
    /// A client of control at `endpoint` (`http://control:7001`). Connects on first use, so a
    /// node can start before control is up; every call then has `options.timeout`.
    pub fn connect(endpoint: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| ClientError::Endpoint(e.to_string()))?
            .connect_timeout(options.timeout)
            .timeout(options.timeout)
            .connect_lazy();
        Ok(Self::new(channel, options))
    }

    /// A client over an existing channel.
    pub fn new(channel: Channel, options: ClientOptions) -> Self {
        Self {
            identity: options.credential.identity().clone(),
            grpc: GrpcClient::with_interceptor(channel, options.credential),
            playback: Arc::new(PlaybackCache::new(
                options.playback_cache_capacity,
                options.playback_hit_ttl,
                options.playback_miss_ttl,
            )),
            timeout: options.timeout,
        }
    }

    /// Who this client calls as: the role and node id of its credential.
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// Reports this node's liveness and load; renews the leases of the streams it lists.
    pub async fn heartbeat(
        &self,
        request: HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ClientError> {
        let request = self.request(request);
        self.call(|mut grpc| async move { grpc.heartbeat(request).await })
            .await
    }

    /// Finds a stream by playback id or stream id (uncached).
    pub async fn lookup(&self, by: By) -> Result<LookupStreamResponse, ClientError> {
        let request = self.request(LookupStreamRequest { by: Some(by) });
        self.call(|mut grpc| async move { grpc.lookup_stream(request).await })
            .await
    }

    /// A request carrying the deadline, so the server gives up when the caller does.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Runs one RPC under the deadline, which also covers connecting a lazy channel.
    async fn call<T, F, Fut>(&self, rpc: F) -> Result<T, ClientError>
    where
        F: FnOnce(Grpc) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        match tokio::time::timeout(self.timeout, rpc(self.grpc.clone())).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(status.into()),
            Err(_) => Err(ClientError::Timeout(self.timeout)),
        }
    }
}

/// Maps a refusal back to the error the origin reports; anything that is not a decision
/// (transport failure, timeout, server trouble) is `Unavailable`, so publishing fails closed.
fn auth_error(error: ClientError, app: &str, key: &str) -> AuthError {
    let claimed = || claimed_stream_id(key).unwrap_or_default().to_owned();
    match error {
        ClientError::Status { code, message } => match code {
            Code::InvalidArgument => AuthError::WrongApp(app.to_owned()),
            Code::NotFound => AuthError::UnknownStream,
            Code::PermissionDenied => AuthError::WrongKey {
                stream_id: claimed(),
            },
            Code::AlreadyExists => AuthError::AlreadyLive {
                stream_id: claimed(),
            },
            _ => AuthError::Unavailable(format!("{code:?}: {message}")),
        },
        other => AuthError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl PublishAuthorizer for ControlClient {
    async fn authorize(&self, app: &str, key: &str) -> Result<PublishGrant, AuthError> {
        // Control would answer PERMISSION_DENIED, which reads as a wrong key; say what it is.
        if self.identity.role != Role::Origin {
            return Err(AuthError::Unavailable(format!(
                "an {} cannot authorize publishes",
                self.identity.role
            )));
        }
        let request = self.request(AuthorizePublishRequest {
            app: app.to_owned(),
            stream_key: key.to_owned(),
            origin_id: self.identity.node_id.clone(),
        });
        let response = self
            .call(|mut grpc| async move { grpc.authorize_publish(request).await })
            .await
            .map_err(|error| auth_error(error, app, key))?;
        Ok(PublishGrant {
            stream_id: response.stream_id,
            playback_id: response.playback_id,
            epoch: response.epoch,
        })
    }

    async fn release(&self, grant: &PublishGrant) {
        let request = self.request(EndPublishRequest {
            stream_id: grant.stream_id.clone(),
            epoch: grant.epoch,
        });
        let result = self
            .call(|mut grpc| async move { grpc.end_publish(request).await })
            .await;
        if let Err(error) = result {
            // The lease still expires on its own once heartbeats stop listing the stream.
            tracing::warn!(
                stream_id = grant.stream_id,
                epoch = grant.epoch,
                %error,
                "could not release publish lease"
            );
        }
    }
}

#[async_trait]
impl StreamDirectory for ControlClient {
    async fn resolve_playback(&self, playback_id: &str) -> Result<Option<String>, DirectoryError> {
        if let Some(answer) = self.playback.get(playback_id, Instant::now()) {
            return Ok(answer);
        }
        match self.lookup(By::PlaybackId(playback_id.to_owned())).await {
            Ok(response) => {
                let answer = response.found.then_some(response.stream_id);
                self.playback
                    .put(playback_id, answer.clone(), Instant::now());
                Ok(answer)
            }
            Err(error) => {
                // Not cached: the next viewer asks again once control is back.
                tracing::warn!(playback_id, %error, "playback lookup failed");
                Err(DirectoryError::Unavailable(error.to_string()))
            }
        }
    }
}

#[async_trait]
impl StreamOwners for ControlClient {
    async fn relay_url(&self, stream_id: &str) -> Result<Option<String>, LiveError> {
        let response = self
            .lookup(By::StreamId(stream_id.to_owned()))
            .await
            .map_err(|error| LiveError::Unavailable(error.to_string()))?;
        let live = response.found && response.live && !response.relay_url.is_empty();
        Ok(live.then_some(response.relay_url))
    }
}
