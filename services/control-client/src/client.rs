//! The control client that origins and edges use: publish authorization (failing closed),
//! playback lookup with the stream's policy (cached), the keys that sign playback tokens,
//! stream owners for the relay, and heartbeats. Every call carries the node's cluster
//! credential.

mod cache;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrocast_base::{Epoch, PlaybackId, StreamId};
use ferrocast_proto::auth::{NodeCredential, NodeIdentity, Role};
use ferrocast_proto::control::control_client::ControlClient as GrpcClient;
use ferrocast_proto::control::{
    AuthorizePublishRequest, EndPublishRequest, GetSigningKeysRequest, LookupStreamRequest,
};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use crate::heartbeat::{self, Beat};
use crate::stream_key::claimed_stream_id;
use crate::{
    AuthError, DEFAULT_TAKEOVER_AFTER, DirectoryError, FoundStream, LookupBy, MAX_DECISION_SLACK,
    PlaybackStream, PublicSigningKey, PublishAuthorizer, PublishGrant, RecordingGrant,
    StreamDirectory,
};
use cache::PlaybackCache;

/// The gRPC client with this node's credential on every call.
type Grpc = GrpcClient<InterceptedService<Channel, NodeCredential>>;

/// How a [`ControlClient`] behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// This node's cluster credential: control learns the node's role and id from it.
    pub credential: NodeCredential,
    /// Deadline of every call but `AuthorizePublish`, connecting included.
    pub timeout: Duration,
    /// Deadline of `AuthorizePublish`: control may wait up to its `takeover_after` + 250 ms
    /// for a quiet holder before deciding, so this must exceed that plus the usual
    /// deadline. The origin's `authorize_timeout` must exceed this in turn.
    pub authorize_timeout: Duration,
    /// Most playback ids remembered.
    pub playback_cache_capacity: usize,
    /// How long a found playback id is remembered: a playback id never changes its stream,
    /// so this bounds how long a stream's playback policy change (public ↔ signed) and its
    /// delete take to reach this node.
    pub playback_hit_ttl: Duration,
    /// How long an unknown playback id is remembered.
    pub playback_miss_ttl: Duration,
}

impl ClientOptions {
    /// Defaults for the node `credential` names: 2 s deadline (3.75 s for authorization:
    /// control's default 1.5 s takeover time, its 250 ms slack, and 2 s), 10 000 cached
    /// playback ids, hits for 10 seconds (ADR 22: a policy change shows within that), misses
    /// for 3 seconds.
    pub fn new(credential: NodeCredential) -> Self {
        let timeout = Duration::from_secs(2);
        let decision_wait = DEFAULT_TAKEOVER_AFTER.saturating_add(MAX_DECISION_SLACK);
        Self {
            credential,
            timeout,
            authorize_timeout: decision_wait.saturating_add(timeout),
            playback_cache_capacity: 10_000,
            playback_hit_ttl: Duration::from_secs(10),
            playback_miss_ttl: Duration::from_secs(3),
        }
    }
}

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint URL is not usable.
    #[error("invalid control endpoint: {0}")]
    Endpoint(#[source] tonic::transport::Error),
    /// No answer within the deadline.
    #[error("control did not answer within {0:?}")]
    Timeout(Duration),
    /// Control answered with an error status, or the transport failed. The status message
    /// never contains a key; its metadata is left out of the text.
    #[error("control answered {:?}: {}", .0.code(), .0.message())]
    Status(#[from] Status),
}

/// A client of the control service over one lazily connected tonic channel.
#[derive(Clone)]
pub struct ControlClient {
    grpc: Grpc,
    identity: NodeIdentity,
    timeout: Duration,
    authorize_timeout: Duration,
    playback: Arc<PlaybackCache>,
}

impl ControlClient {
    /// A client of control at `endpoint` (`http://control:7001`). Connects on first use, so a
    /// node can start before control is up; every call then has its deadline from `options`.
    pub fn connect(endpoint: &str, options: ClientOptions) -> Result<Self, ClientError> {
        // No channel-wide request timeout: each call sets its own (authorization waits
        // longer than the rest).
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(ClientError::Endpoint)?
            .connect_timeout(options.timeout)
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
            authorize_timeout: options.authorize_timeout,
        }
    }

    /// Who this client calls as: the role and node id of its credential.
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// Reports this node's liveness and load, as the node its credential names; renews the
    /// leases of the streams it lists. Answers how long after this beat control forgets the
    /// node and its leases.
    pub async fn heartbeat(&self, beat: &Beat) -> Result<Duration, ClientError> {
        let request = self.request(heartbeat::request(&self.identity, beat), self.timeout);
        let response = self
            .call(self.timeout, |mut grpc| async move {
                grpc.heartbeat(request).await
            })
            .await?;
        Ok(Duration::from_millis(response.ttl_ms))
    }

    /// The relay URL (`http://host:port`) of the origin publishing `stream_id`; `None` when
    /// the stream is not live (or its origin has not registered a relay). Uncached: an edge
    /// asks once per upstream it opens.
    pub async fn relay_url(&self, stream_id: &StreamId) -> Result<Option<String>, ClientError> {
        let found = self.lookup(LookupBy::StreamId(stream_id.clone())).await?;
        Ok(found
            .filter(|stream| stream.live && !stream.relay_url.is_empty())
            .map(|stream| stream.relay_url))
    }

    /// Finds a stream by playback id or stream id (uncached); `None` when there is no such
    /// stream.
    pub async fn lookup(&self, by: LookupBy) -> Result<Option<FoundStream>, ClientError> {
        let message = LookupStreamRequest {
            by: Some(by.into_wire()),
        };
        let request = self.request(message, self.timeout);
        let response = self
            .call(self.timeout, |mut grpc| async move {
                grpc.lookup_stream(request).await
            })
            .await?;
        Ok(FoundStream::from_wire(response))
    }

    /// Every current playback signing key (public halves), uncached: edges poll it.
    pub async fn signing_keys(&self) -> Result<Vec<PublicSigningKey>, ClientError> {
        let request = self.request(GetSigningKeysRequest {}, self.timeout);
        let response = self
            .call(self.timeout, |mut grpc| async move {
                grpc.get_signing_keys(request).await
            })
            .await?;
        Ok(response
            .keys
            .into_iter()
            .map(|key| PublicSigningKey {
                kid: key.kid,
                jwk: key.jwk,
                created_at_ms: key.created_at_ms,
            })
            .collect())
    }

    /// A request carrying the deadline, so the server gives up when the caller does.
    fn request<T>(&self, message: T, timeout: Duration) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(timeout);
        request
    }

    /// Runs one RPC under `timeout`, which also covers connecting a lazy channel.
    async fn call<T, F, Fut>(&self, timeout: Duration, rpc: F) -> Result<T, ClientError>
    where
        F: FnOnce(Grpc) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        match tokio::time::timeout(timeout, rpc(self.grpc.clone())).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(status.into()),
            Err(_) => Err(ClientError::Timeout(timeout)),
        }
    }
}

/// Maps a refusal back to the error the origin reports; anything that is not a decision
/// (transport failure, timeout, server trouble) is `Unavailable`, so publishing fails closed.
fn auth_error(error: ClientError, app: &str, key: &str) -> AuthError {
    let claimed = || claimed_stream_id(key).unwrap_or_default();
    let ClientError::Status(status) = &error else {
        return AuthError::unavailable(error);
    };
    match status.code() {
        Code::InvalidArgument => AuthError::WrongApp(app.to_owned()),
        Code::NotFound => AuthError::UnknownStream,
        Code::PermissionDenied => AuthError::WrongKey {
            stream_id: claimed(),
        },
        Code::AlreadyExists => AuthError::AlreadyLive {
            stream_id: claimed(),
        },
        // Not a decision: publishing fails closed.
        _ => AuthError::unavailable(error),
    }
}

#[async_trait]
impl PublishAuthorizer for ControlClient {
    async fn authorize(&self, app: &str, key: &str) -> Result<PublishGrant, AuthError> {
        // Control would answer PERMISSION_DENIED, which reads as a wrong key; say what it is.
        if self.identity.role != Role::Origin {
            return Err(AuthError::unavailable(format!(
                "an {} cannot authorize publishes",
                self.identity.role
            )));
        }
        let message = AuthorizePublishRequest {
            app: app.to_owned(),
            stream_key: key.to_owned(),
            origin_id: self.identity.node_id.clone(),
        };
        let request = self.request(message, self.authorize_timeout);
        let response = self
            .call(self.authorize_timeout, |mut grpc| async move {
                grpc.authorize_publish(request).await
            })
            .await
            .map_err(|error| auth_error(error, app, key))?;
        // Control's own registry named these: the edge of the system for the origin.
        Ok(PublishGrant {
            stream_id: StreamId::new(response.stream_id),
            playback_id: PlaybackId::new(response.playback_id),
            epoch: Epoch(response.epoch),
            recording: RecordingGrant::from_millis(
                response.recording_retention_ms,
                response.recording_max_duration_ms,
            ),
        })
    }

    async fn release(&self, grant: &PublishGrant) {
        let message = EndPublishRequest {
            stream_id: grant.stream_id.as_str().to_owned(),
            epoch: grant.epoch.get(),
        };
        let request = self.request(message, self.timeout);
        let result = self
            .call(self.timeout, |mut grpc| async move {
                grpc.end_publish(request).await
            })
            .await;
        if let Err(error) = result {
            // The lease still expires on its own once heartbeats stop listing the stream.
            tracing::warn!(
                stream_id = grant.stream_id.as_str(),
                epoch = grant.epoch.get(),
                %error,
                "could not release publish lease"
            );
        }
    }
}

#[async_trait]
impl StreamDirectory for ControlClient {
    async fn resolve_playback(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<StreamId>, DirectoryError> {
        let found = self.resolve_stream(playback_id).await?;
        Ok(found.map(|stream| stream.stream_id))
    }

    async fn resolve_stream(
        &self,
        playback_id: &PlaybackId,
    ) -> Result<Option<PlaybackStream>, DirectoryError> {
        if let Some(answer) = self.playback.get(playback_id, Instant::now()) {
            return Ok(answer);
        }
        match self.lookup(LookupBy::PlaybackId(playback_id.clone())).await {
            Ok(found) => {
                let answer = found.map(|stream| PlaybackStream {
                    stream_id: stream.stream_id,
                    policy: stream.playback_policy,
                    dvr_window: stream.dvr_window,
                });
                self.playback
                    .put(playback_id, answer.clone(), Instant::now());
                Ok(answer)
            }
            Err(error) => {
                // Stale-if-error: a stream known before the outage keeps playing, under the
                // policy it had. A remembered miss is not reused: "no such stream" might be
                // wrong by now, and a 503 tells the viewer to try again.
                if let Some(stream) = self.playback.stale_hit(playback_id) {
                    tracing::debug!(playback_id = playback_id.as_str(), %error, "playback lookup failed; served stale");
                    return Ok(Some(stream));
                }
                tracing::warn!(playback_id = playback_id.as_str(), %error, "playback lookup failed");
                Err(DirectoryError::Unavailable(error))
            }
        }
    }

    async fn signing_keys(&self) -> Result<Vec<PublicSigningKey>, DirectoryError> {
        ControlClient::signing_keys(self)
            .await
            .map_err(DirectoryError::Unavailable)
    }
}
