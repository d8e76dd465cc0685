//! What happens after a publish ends, off the connection's path: the uploader drains, the
//! lease is released, and the reconnect window runs. When the window closes with no newer
//! session of the stream on this origin (and this one was not fenced out), the hub ends and
//! the playlist gets `EXT-X-ENDLIST`; a shutdown cuts the window short without `ENDLIST`,
//! since a drained origin's encoders reconnect elsewhere. The stream's part log ends at the
//! same moment and is removed a low-latency window later (at once on shutdown).

use std::sync::Arc;
use std::time::Duration;

use ferrocast_control_client::PublishGrant;
use ferrocast_live::{Claim, Hub};
use ferrocast_store::IndexError;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use crate::OriginDeps;
use crate::publish::LogEnding;
use crate::uploader::{INDEX_TIMEOUT, Outcome};

/// Deadline of the lease release call.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the origin keeps trying to end a playlist when the index is unreachable.
const CLOSE_DEADLINE: Duration = Duration::from_secs(30);

/// An ended publish session, still to be wound up.
pub struct Ending {
    /// The session's grant.
    pub grant: PublishGrant,
    /// What the origin talks to.
    pub deps: OriginDeps,
    /// The hub the session fed, and its claim on it.
    pub hub: (Arc<Hub>, Claim),
    /// The session's uploader, draining.
    pub uploader: JoinHandle<Outcome>,
    /// Longest the uploader may take to drain (then what waits is lost).
    pub drain_deadline: Duration,
    /// The reconnect window.
    pub window: Duration,
    /// The origin's shutdown.
    pub shutdown: CancellationToken,
    /// The session's part log.
    pub log: LogEnding,
    /// How long the log stays after the window closed: players holding its last playlist
    /// still get its parts.
    pub log_linger: Duration,
}

impl Ending {
    /// Runs the wind-up as a task the origin's drain waits for.
    pub fn spawn(self) {
        // A root span, only linked to the connection's: it lasts the reconnect window, and a
        // child would hold the connection's span (and its export) open that long.
        let span = tracing::info_span!(parent: None, "publish_end", stream_id = %self.grant.stream_id, epoch = self.grant.epoch.get());
        span.follows_from(tracing::Span::current());
        let endings = self.deps.publishing.endings().clone();
        endings.spawn(tracing::Instrument::instrument(self.run(), span));
    }

    async fn run(mut self) {
        let window_closes = Instant::now() + self.window;
        let outcome = match timeout(self.drain_deadline, &mut self.uploader).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => {
                tracing::error!(%error, "segment uploader failed");
                Outcome { fenced: false }
            }
            Err(_) => {
                self.uploader.abort();
                tracing::error!(deadline = ?self.drain_deadline, "uploads still waiting at the deadline were abandoned");
                Outcome { fenced: false }
            }
        };
        if timeout(RELEASE_TIMEOUT, self.deps.authorizer.release(&self.grant))
            .await
            .is_err()
        {
            tracing::warn!("lease release timed out; it expires on its own");
        }
        let stream_id = &self.grant.stream_id;
        let (hub, claim) = &self.hub;
        tokio::select! {
            () = sleep_until(window_closes) => {}
            () = self.shutdown.cancelled() => {
                self.deps.hubs.end_unless_claimed(stream_id, hub, claim);
                self.log.remove();
                tracing::info!("publish ended during shutdown; playlist left open for another origin");
                return;
            }
        }
        if !self.deps.hubs.end_unless_claimed(stream_id, hub, claim) {
            tracing::info!("reconnect window closed; a newer session continues the stream");
            return;
        }
        if outcome.fenced {
            tracing::info!("reconnect window closed; a newer session elsewhere owns the stream");
        } else {
            self.log.end();
            self.close_playlist().await;
        }
        tokio::select! {
            () = sleep(self.log_linger) => {}
            () = self.shutdown.cancelled() => {}
        }
        self.log.remove();
    }

    async fn close_playlist(&self) {
        let (stream_id, epoch) = (&self.grant.stream_id, self.grant.epoch);
        let give_up = Instant::now() + CLOSE_DEADLINE;
        let mut backoff = Duration::from_millis(250);
        loop {
            let closing = self.deps.index.close_session(stream_id, epoch);
            let result = timeout(INDEX_TIMEOUT, closing)
                .await
                .unwrap_or_else(|_| Err(IndexError::Unavailable("timed out".into())));
            match result {
                Ok(()) => {
                    tracing::info!("reconnect window closed; playlist ended");
                    return;
                }
                Err(IndexError::StaleEpoch { current, .. }) => {
                    tracing::info!(
                        current = current.get(),
                        "reconnect window closed; a newer session owns the stream"
                    );
                    return;
                }
                Err(error) if Instant::now() + backoff < give_up => {
                    tracing::warn!(%error, "could not end playlist; retrying");
                    sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(error) => {
                    tracing::error!(%error, "could not end playlist");
                    return;
                }
            }
        }
    }
}
