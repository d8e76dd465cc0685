//! Signed webhooks, delivered at least once from an outbox in Redis.
//!
//! Other parts of control queue an [`Event`] with [`Webhooks::enqueue`]; the stream lifecycle
//! queues its own (`stream.active`, `stream.disconnected`, `stream.idle`, see `lifecycle`).
//! Every replica runs the delivery workers: a target's events go out one at a time, in
//! order, from whichever replica claimed the target, signed with the target's secret
//! (`sign`), retried with backoff until delivered or `max_age` old. docs/webhooks.md has the
//! receiver's side; docs/adr/0020-webhooks-outbox.md the design.

mod backoff;
mod config;
mod deliver;
mod event;
mod keys;
mod lifecycle;
pub(crate) mod metrics;
mod outbox;
pub(crate) mod rest;
mod sign;
mod targets;

use std::sync::Arc;
use std::time::Duration;

use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::RedisLink;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use config::{TargetConfig, WebhooksConfig, check_target};
pub use event::{Event, EventKind, MAX_EVENT_ID_LEN, Session, active_id, disconnected_id, idle_id};
pub use sign::{
    EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, header_value, signature, verify,
};
pub use targets::{Source, Target, TargetView};

use super::now_ms;
use super::repo::{Repo, RepoError};
use backoff::Backoff;
use lifecycle::Lifecycle;
pub(crate) use lifecycle::SessionStep;
use outbox::{Outbox, Queued};

/// Why an event could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The event is malformed (the message says how).
    #[error("invalid webhook event: {0}")]
    Invalid(String),
    /// Redis failed or did not answer in time.
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// The webhooks of one control replica: queueing (for any replica's callers) and, once
/// [`spawned`](Webhooks::spawn), delivery.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    config: WebhooksConfig,
    configured: Vec<Target>,
    outbox: Outbox,
    lifecycle: Lifecycle,
    backoff: Backoff,
    /// Wakes this replica's delivery loop when it queued something.
    wake: Notify,
}

impl Webhooks {
    /// Webhooks over `redis` (every call under `redis_timeout`); `reconnect_window` is the
    /// wait between `stream.disconnected` and `stream.idle`. Refuses invalid settings, naming
    /// each bad key.
    pub fn new(
        redis: RedisLink,
        config: WebhooksConfig,
        reconnect_window: Duration,
        redis_timeout: Duration,
    ) -> Result<Self, WebhookError> {
        Self::over(Repo::new(redis, redis_timeout), config, reconnect_window)
    }

    pub(crate) fn over(
        repo: Repo,
        config: WebhooksConfig,
        reconnect_window: Duration,
    ) -> Result<Self, WebhookError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(WebhookError::Invalid(problems.join("; ")));
        }
        let configured: Vec<Target> = config
            .targets
            .iter()
            .map(|target| Target {
                id: targets::config_target_id(&target.url),
                url: target.url.clone(),
                secret: target.secret.clone(),
                source: Source::Config,
                created_at_ms: 0,
            })
            .collect();
        let ids = configured.iter().map(|t| t.id.clone()).collect();
        let outbox = Outbox::new(repo, ids, config.max_queue);
        Ok(Self {
            inner: Arc::new(Inner {
                backoff: Backoff {
                    initial: config.retry_initial,
                    max: config.retry_max,
                    max_age: config.max_age,
                },
                lifecycle: Lifecycle::new(outbox.clone(), reconnect_window),
                outbox,
                configured,
                config,
                wake: Notify::new(),
            }),
        })
    }

    /// Queues `event` for every target, once per id: queueing an id again (from this or any
    /// replica, within 48 h) does nothing. Returns once the event is in Redis; delivery
    /// follows, at least once per target, in the order queued.
    pub async fn enqueue(&self, event: Event) -> Result<(), WebhookError> {
        if event.id.is_empty() || event.id.len() > MAX_EVENT_ID_LEN {
            return Err(WebhookError::Invalid(format!(
                "id must be 1..={MAX_EVENT_ID_LEN} bytes"
            )));
        }
        if event.id.chars().any(|c| c.is_control() || c == ' ') {
            return Err(WebhookError::Invalid(
                "id must not contain spaces or control characters".into(),
            ));
        }
        if !event.data.is_object() {
            return Err(WebhookError::Invalid("data must be a JSON object".into()));
        }
        let now = now_ms();
        let body = event.body(now);
        let queued = self
            .inner
            .outbox
            .push(&event.id, &body, event.kind.as_str(), now)
            .await;
        self.account("enqueue", queued)?;
        Ok(())
    }

    /// Counts and logs what a queueing step did; wakes the delivery loop.
    fn account(
        &self,
        step: &'static str,
        queued: Result<Queued, RepoError>,
    ) -> Result<(), RepoError> {
        match queued {
            Ok(queued) => {
                for kind in &queued.kinds {
                    metrics::queued(kind, 1);
                }
                if queued.dropped > 0 {
                    metrics::dropped(queued.dropped);
                    tracing::warn!(
                        step,
                        dropped = queued.dropped,
                        max_queue = self.inner.config.max_queue,
                        "webhook queue full: oldest events dropped"
                    );
                }
                if !queued.kinds.is_empty() {
                    self.inner.wake.notify_one();
                }
                Ok(())
            }
            Err(error) => {
                metrics::queue_failed();
                super::metrics::redis_failed();
                tracing::warn!(step, %error, "webhook event not queued");
                Err(error)
            }
        }
    }

    /// A publish session changed: granted (`stream.active`, after `stream.disconnected` of
    /// an older session still live), ended by its origin (`stream.disconnected`; the
    /// reconnect window starts) or its lapsed lease restored. Failures are logged and
    /// counted, never the caller's.
    pub(crate) async fn session_changed(&self, step: SessionStep, session: &Session) {
        let stream_id = StreamId::new(session.stream_id.as_str());
        let lifecycle = &self.inner.lifecycle;
        let queued = lifecycle
            .step(step, &session.json(), &stream_id, session.epoch, now_ms())
            .await;
        let _ = self.account(step.label(), queued);
    }

    /// Whether the event `id` was queued (within the dedupe time, 48 h), with or without
    /// targets.
    pub(crate) async fn was_queued(&self, id: &str) -> Result<bool, RepoError> {
        let guard = format!("{}{id}", keys::SEEN);
        self.inner.outbox.repo().exists(&guard).await
    }

    /// The targets set by configuration.
    pub fn configured_targets(&self) -> &[Target] {
        &self.inner.configured
    }

    /// The target with `id`, configured or stored.
    pub(crate) async fn target(&self, id: &str) -> Result<Option<Target>, RepoError> {
        if let Some(target) = self.inner.configured.iter().find(|t| t.id == id) {
            return Ok(Some(target.clone()));
        }
        if !id.starts_with("wh_") {
            return Ok(None);
        }
        self.inner.outbox.repo().webhook_target(id).await
    }

    /// Starts this replica's background work until `shutdown`: delivery, the lease sweep
    /// and reconnect-window deadlines, and the queue gauges.
    pub fn spawn(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let webhooks = self.clone();
        tokio::spawn(async move {
            let delivery = deliver::run(webhooks.clone(), shutdown.clone());
            let lifecycle = webhooks.clone().lifecycle_loop(shutdown);
            tokio::join!(delivery, lifecycle);
        })
    }

    /// Every [`LIFECYCLE_EVERY`]: fires due windows and sweeps lapsed leases; every
    /// [`STATS_EVERY`], sets the queue gauges.
    async fn lifecycle_loop(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(LIFECYCLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stats_at = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let lifecycle = &self.inner.lifecycle;
            let idle = lifecycle.fire_idle(now_ms()).await;
            let _ = self.account("idle", idle);
            let swept = lifecycle.sweep(now_ms()).await.map(|(queued, ended)| {
                if ended > 0 {
                    tracing::info!(ended, "publish sessions ended without EndPublish");
                }
                queued
            });
            let _ = self.account("sweep", swept);
            if stats_at.elapsed() >= STATS_EVERY {
                stats_at = tokio::time::Instant::now();
                self.set_gauges().await;
            }
        }
    }

    async fn set_gauges(&self) {
        match self.inner.outbox.stats().await {
            Ok((events, oldest)) => {
                let age = oldest.map_or(Duration::ZERO, |at| {
                    Duration::from_millis(now_ms().saturating_sub(at))
                });
                metrics::queue(events, age);
            }
            Err(error) => {
                super::metrics::redis_failed();
                tracing::warn!(%error, "webhook queue stats failed");
            }
        }
    }
}

/// How often each replica checks for lapsed leases and closed reconnect windows.
const LIFECYCLE_EVERY: Duration = Duration::from_secs(1);
/// How often each replica sets the queue gauges.
const STATS_EVERY: Duration = Duration::from_secs(5);

/// The session a grant or end of `stream_id` under `epoch` by `origin_id` belongs to.
pub(crate) fn session(
    stream_id: &StreamId,
    playback_id: &str,
    epoch: Epoch,
    origin_id: &str,
) -> Session {
    Session {
        stream_id: stream_id.as_str().to_owned(),
        playback_id: playback_id.to_owned(),
        epoch: epoch.get(),
        origin_id: origin_id.to_owned(),
    }
}
