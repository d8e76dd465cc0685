//! `ferrocast drain`: asks the process on this host to drain through its ops port, then waits
//! until it has exited. Used as a Kubernetes `preStop` hook, so the pod's termination waits
//! for publishes to end and segments to be flushed.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::time::Instant;

/// How often to check whether the process has exited.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Posts `/drain` to `ops_url` and waits until the ops port stops answering, or `timeout`.
pub async fn run(ops_url: &str, timeout: Duration) -> anyhow::Result<()> {
    let base = ops_url.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building the http client")?;
    let response = client
        .post(format!("{base}/drain"))
        .send()
        .await
        .with_context(|| format!("asking {base} to drain"))?;
    if !response.status().is_success() {
        bail!("{base}/drain answered {}", response.status());
    }
    tracing::info!(ops = %base, "drain started; waiting for the process to exit");
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        tokio::time::sleep(POLL_INTERVAL).await;
        if client.get(format!("{base}/healthz")).send().await.is_err() {
            tracing::info!("process exited");
            return Ok(());
        }
    }
    bail!("process still running after {timeout:?}")
}
