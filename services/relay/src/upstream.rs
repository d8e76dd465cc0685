//! Opening one upstream subscription: find the stream's owner, connect, subscribe, and wait
//! for the first frame — each step under its own deadline. The first two steps ([`connect`])
//! and the reading of a refusal ([`refused`]) serve part-log subscriptions too.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrocast_base::StreamId;
use ferrocast_live::Frame;
use ferrocast_proto::auth::NodeCredential;
use ferrocast_proto::relay::relay_client::RelayClient;
use ferrocast_proto::relay::{MediaFrame, SubscribeRequest};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status, Streaming};
use tracing::warn;

use crate::config::{KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT};
use crate::shared::Inner;
use crate::{MAX_MESSAGE_BYTES, RelayConfig, RelayError, StreamOwners, frame_from_proto};

/// An open upstream subscription that has delivered its first frame.
pub(crate) struct Upstream {
    /// The origin's relay URL.
    pub(crate) url: String,
    /// The first frame, not yet forwarded.
    pub(crate) first: Option<Frame>,
    /// The rest of the stream.
    pub(crate) frames: Streaming<MediaFrame>,
    _counted: Counted,
}

/// Keeps [`crate::RelaySource::upstream_count`] exact: counted while alive.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A relay client that sends this edge's credential with every call.
pub(crate) type Client = RelayClient<InterceptedService<Channel, NodeCredential>>;

/// Finds the current owner of `stream_id` and connects to its relay; returns its URL and a
/// client.
pub(crate) async fn connect(
    owners: &dyn StreamOwners,
    config: &RelayConfig,
    credential: &NodeCredential,
    stream_id: &StreamId,
) -> Result<(String, Client), RelayError> {
    let url = deadline(
        "owner lookup",
        config.resolve_timeout,
        owners.relay_url(stream_id),
    )
    .await?
    .map_err(RelayError::Owners)?
    .ok_or(RelayError::Offline)?;
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|source| RelayError::InvalidUrl {
            url: url.clone(),
            source,
        })?
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    let channel = deadline("connect", config.connect_timeout, endpoint.connect())
        .await?
        .map_err(|source| RelayError::Connect {
            url: url.clone(),
            source,
        })?;
    let client = RelayClient::with_interceptor(channel, credential.clone())
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    Ok((url, client))
}

/// What an upstream's refusal (or its stream's early failure) means: `NOT_FOUND` is a stream
/// not live there; a refused credential is said at every attempt.
pub(crate) fn refused(stream_id: &StreamId, url: &str, status: Status) -> RelayError {
    match status.code() {
        Code::NotFound => RelayError::Offline,
        code => {
            if matches!(code, Code::Unauthenticated | Code::PermissionDenied) {
                // A misconfigured cluster, not a passing failure: say so at every attempt.
                warn!(stream_id = stream_id.as_str(), url = %url, reason = status.message(), "origin refused this edge's cluster credential");
            }
            RelayError::Subscribe {
                url: url.to_owned(),
                status,
            }
        }
    }
}

/// Opens an upstream subscription to `stream_id` at its current owner.
pub(crate) async fn open(inner: &Inner, stream_id: &StreamId) -> Result<Upstream, RelayError> {
    let config = &inner.config;
    let (url, mut client) = connect(&*inner.owners, config, &inner.credential, stream_id).await?;
    let request = SubscribeRequest {
        stream_id: stream_id.as_str().to_owned(),
    };
    let (frames, first) = deadline("subscribe", config.first_frame_timeout, async {
        let mut frames = client.subscribe(request).await?.into_inner();
        let first = first_frame(stream_id, &mut frames).await?;
        Ok::<_, Status>((frames, first))
    })
    .await?
    .map_err(|status| refused(stream_id, &url, status))?;
    let first = first.ok_or(RelayError::Offline)?;
    Ok(Upstream {
        url,
        first: Some(first),
        frames,
        _counted: Counted::new(&inner.upstreams),
    })
}

/// The first valid frame; `None` if the stream ends before one.
async fn first_frame(
    stream_id: &StreamId,
    frames: &mut Streaming<MediaFrame>,
) -> Result<Option<Frame>, Status> {
    while let Some(message) = frames.message().await? {
        match frame_from_proto(message) {
            Ok(frame) => return Ok(Some(frame)),
            Err(error) => {
                warn!(stream_id = stream_id.as_str(), %error, "dropping invalid relayed frame")
            }
        }
    }
    Ok(None)
}

/// `future`, or [`RelayError::Timeout`] naming `step` after `after`.
pub(crate) async fn deadline<T>(
    step: &'static str,
    after: Duration,
    future: impl Future<Output = T>,
) -> Result<T, RelayError> {
    tokio::time::timeout(after, future)
        .await
        .map_err(|_| RelayError::Timeout { step, after })
}
