//! Forwards the Redis index change channel into a process-local broadcast.
//!
//! One dedicated pub/sub connection per [`crate::RedisIndex`], kept alive by a background task:
//! it reconnects with capped backoff and pings the server so a half-open connection is noticed
//! within a deadline. Each (re)connection asks the [`RedisLink`] for the primary afresh, so
//! with Sentinel the subscription follows a failover (a demoted primary drops its pub/sub
//! clients). Messages published while disconnected are lost, so after every
//! (re)subscription it sends [`IndexChange::All`] and readers drop every cached state.

use std::time::Duration;

use ferrocast_base::StreamId;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use tokio::time::{interval, sleep, timeout};

use crate::index::IndexChange;
use crate::keys::INDEX_CHANGED_CHANNEL;
use crate::redis_link::RedisLink;

/// First wait after a failed connection; doubles per failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnects, so an outage is noticed as over within this.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle subscription proves the connection is still alive.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Starts the forwarding task; abort the handle to stop it.
pub(crate) fn spawn_listener(
    link: RedisLink,
    changes: broadcast::Sender<IndexChange>,
    deadline: Duration,
) -> AbortHandle {
    tokio::spawn(listen(link, changes, deadline)).abort_handle()
}

async fn listen(link: RedisLink, changes: broadcast::Sender<IndexChange>, deadline: Duration) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let lost = subscribe_and_forward(&link, &changes, deadline, &mut backoff).await;
        tracing::warn!(
            error = %lost,
            retry_in = ?backoff,
            "index change subscription lost; playlists fall back to cache max age"
        );
        sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Runs one subscription until it fails; returns why. Resets `backoff` once subscribed.
async fn subscribe_and_forward(
    link: &RedisLink,
    changes: &broadcast::Sender<IndexChange>,
    deadline: Duration,
    backoff: &mut Duration,
) -> String {
    // Bounded by the link's own deadline (the Sentinel lookup, then the connection).
    let pubsub = match link.pubsub().await {
        Ok(pubsub) => pubsub,
        Err(error) => return format!("connect: {error}"),
    };
    let (mut sink, mut messages) = pubsub.split();
    match timeout(deadline, sink.subscribe(INDEX_CHANGED_CHANNEL)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return format!("subscribe: {error}"),
        Err(_) => return format!("subscribe timed out after {deadline:?}"),
    }
    *backoff = FIRST_BACKOFF;
    tracing::debug!(
        channel = INDEX_CHANGED_CHANNEL,
        "index change subscription up"
    );
    // Anything published before this point (or while we were away) was missed.
    let _ = changes.send(IndexChange::All);

    let mut ping = interval(PING_EVERY);
    ping.reset(); // the first tick would fire at once; the connection was just proven
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    return "connection closed".to_owned();
                };
                match message.get_payload::<String>() {
                    // An empty id is not a stream.
                    Ok(stream_id) if !stream_id.is_empty() => {
                        let _ = changes.send(IndexChange::Stream(StreamId::new(stream_id)));
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "ignoring a malformed change message"),
                }
            }
            _ = ping.tick() => {
                match timeout(deadline, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return format!("ping: {error}"),
                    Err(_) => return format!("ping timed out after {deadline:?}"),
                }
            }
        }
    }
}
