//! The delivery loop of one replica: claim due targets, POST each one's head event signed,
//! and finish the claim (done, retry later, or give up), with at most [`CONCURRENCY`]
//! attempts in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::backoff::Next;
use super::metrics::{self, Attempt};
use super::outbox::{Claimed, Finish};
use super::sign::{EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, header_value};
use super::targets::Target;
use super::{Webhooks, now_ms};

/// Attempts in flight per replica.
const CONCURRENCY: usize = 16;
/// How often an idle replica looks for due targets (others' events, retries coming due).
const POLL_EVERY: Duration = Duration::from_millis(200);

/// Runs until `shutdown`; attempts in flight are then abandoned: their claims time out and
/// another replica (or this one, restarted) delivers them again.
pub(super) async fn run(webhooks: Webhooks, shutdown: CancellationToken) {
    let client = match client(&webhooks) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook HTTP client cannot be built: no deliveries");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut attempts = JoinSet::new();
    loop {
        let free = permits.available_permits();
        if free > 0 {
            for claimed in claim(&webhooks, free).await {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let (webhooks, client) = (webhooks.clone(), client.clone());
                attempts.spawn(async move {
                    attempt(&webhooks, &client, claimed).await;
                    drop(permit);
                });
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = webhooks.inner.wake.notified() => {}
            () = tokio::time::sleep(POLL_EVERY) => {}
            // A finished attempt may leave its target due again at once: look at once.
            Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
        }
    }
    attempts.shutdown().await;
}

fn client(webhooks: &Webhooks) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(webhooks.inner.config.attempt_timeout)
        .connect_timeout(webhooks.inner.config.attempt_timeout)
        // A redirect is a failure: following one would send the signed event elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// How long a claim keeps a target from other replicas: longer than an attempt and the
/// Redis calls around it, so a healthy replica finishes well before it lapses.
fn visibility(webhooks: &Webhooks) -> Duration {
    webhooks
        .inner
        .config
        .attempt_timeout
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(10))
}

async fn claim(webhooks: &Webhooks, max: usize) -> Vec<Claimed> {
    let token = hex::encode(rand::random::<[u8; 16]>());
    let claimed = webhooks
        .inner
        .outbox
        .claim(now_ms(), visibility(webhooks), max, &token)
        .await;
    claimed.unwrap_or_else(|error| {
        super::super::metrics::redis_failed();
        tracing::warn!(%error, "claiming webhook deliveries failed");
        Vec::new()
    })
}

/// One attempt at a target's head event, and the end of the claim.
async fn attempt(webhooks: &Webhooks, client: &reqwest::Client, claimed: Claimed) {
    let started = Instant::now();
    let outcome = match webhooks.target(&claimed.target).await {
        Ok(Some(target)) => post(client, &target, &claimed).await,
        Ok(None) => Attempt::UnknownTarget,
        Err(error) => {
            // Not an attempt: the claim lapses and the event is tried again.
            super::super::metrics::redis_failed();
            tracing::warn!(target_id = claimed.target, %error, "webhook target lookup failed");
            return;
        }
    };
    metrics::attempted(outcome, started.elapsed());
    let now = now_ms();
    let finish = if outcome == Attempt::Delivered {
        metrics::finished(true);
        Finish::Done
    } else {
        let failures = claimed.failures.saturating_add(1);
        let age = Duration::from_millis(now.saturating_sub(claimed.item.enqueued_ms));
        match webhooks
            .inner
            .backoff
            .after(failures, age, rand::random::<f64>())
        {
            Next::RetryIn(wait) => {
                tracing::info!(
                    target_id = claimed.target,
                    event_id = claimed.item.id,
                    failures,
                    retry_in = ?wait,
                    "webhook delivery failed; will retry"
                );
                let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                Finish::Retry {
                    at_ms: now.saturating_add(wait_ms),
                    failures,
                }
            }
            Next::GiveUp => {
                metrics::finished(false);
                tracing::warn!(
                    target_id = claimed.target,
                    event_id = claimed.item.id,
                    failures,
                    "webhook event given up: older than max_age"
                );
                Finish::Done
            }
        }
    };
    match webhooks.inner.outbox.finish(&claimed, finish, now).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            target_id = claimed.target,
            event_id = claimed.item.id,
            "webhook claim had lapsed; another replica may deliver this event again"
        ),
        Err(error) => {
            super::super::metrics::redis_failed();
            tracing::warn!(target_id = claimed.target, %error, "finishing a webhook claim failed");
        }
    }
}

/// POSTs the event. The URL is not logged (it may carry a token); the target id is.
async fn post(client: &reqwest::Client, target: &Target, claimed: &Claimed) -> Attempt {
    let body = claimed.item.body.as_bytes();
    let signature = header_value(&target.secret, now_ms() / 1000, body);
    let (Ok(event_id), Ok(event_type)) = (
        HeaderValue::from_str(&claimed.item.id),
        HeaderValue::from_str(&claimed.item.kind),
    ) else {
        // Ids are checked when queued; one that is no header value cannot be sent.
        return Attempt::Status;
    };
    let request = client
        .post(&target.url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, "ferrocast-webhooks")
        .header(SIGNATURE_HEADER, signature)
        .header(EVENT_ID_HEADER, event_id)
        .header(EVENT_TYPE_HEADER, event_type)
        .body(body.to_vec());
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            tracing::debug!(
                target_id = target.id,
                event_id = claimed.item.id,
                "webhook delivered"
            );
            Attempt::Delivered
        }
        Ok(response) => {
            tracing::info!(
                target_id = target.id,
                event_id = claimed.item.id,
                status = response.status().as_u16(),
                "webhook refused"
            );
            Attempt::Status
        }
        Err(error) if error.is_timeout() => Attempt::Timeout,
        Err(error) => {
            // reqwest's error names the URL: keep only what kind of failure it was.
            tracing::debug!(
                target_id = target.id,
                connect = error.is_connect(),
                "webhook request failed"
            );
            Attempt::Network
        }
    }
}
