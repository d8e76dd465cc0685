//! The read-only calls of the `Control` service: a stream by playback or stream id (with its
//! playback policy and, when live, the relay of the origin holding it), and the public
//! playback signing keys edges verify tokens with.

use ferrocast_base::{PlaybackId, PlaybackPolicy, StreamId};
use ferrocast_proto::auth::{self, caller};
use ferrocast_proto::control::lookup_stream_request::By;
use ferrocast_proto::control::{
    self as wire, GetSigningKeysRequest, GetSigningKeysResponse, LookupStreamRequest,
    LookupStreamResponse, PublicSigningKey,
};
use tonic::{Request, Response, Status};

use super::{ControlService, check_id, unavailable};

impl ControlService {
    pub(super) async fn lookup(
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
        let playback_policy = match record.playback_policy {
            PlaybackPolicy::Public => wire::PlaybackPolicy::Public,
            PlaybackPolicy::Signed => wire::PlaybackPolicy::Signed,
        };
        let mut response = LookupStreamResponse {
            found: true,
            stream_id: record.id.into_string(),
            playback_id: record.playback_id.into_string(),
            playback_policy: playback_policy.into(),
            // Exact: zero (off) must stay zero.
            dvr_window_ms: u64::try_from(record.dvr_window.get().as_millis()).unwrap_or(u64::MAX),
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

    /// The public signing keys, for edges (and origins) to verify playback tokens with.
    pub(super) async fn signing_keys(
        &self,
        request: Request<GetSigningKeysRequest>,
    ) -> Result<Response<GetSigningKeysResponse>, Status> {
        caller(&request)?.require(&[auth::Role::Origin, auth::Role::Edge], "GetSigningKeys")?;
        let held = self.shared.repo.signing_keys().await.map_err(unavailable)?;
        let keys = held
            .into_iter()
            .map(|key| PublicSigningKey {
                kid: key.kid,
                jwk: key.jwk,
                created_at_ms: key.created_at_ms,
            })
            .collect();
        Ok(Response::new(GetSigningKeysResponse { keys }))
    }
}
