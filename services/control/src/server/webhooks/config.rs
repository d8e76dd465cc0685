//! Settings of the webhooks (`control.webhooks`): the operator's targets and the retry
//! policy of the outbox.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Fewest characters of a target's signing secret: it must resist guessing on its own.
pub const MIN_SECRET_CHARS: usize = 16;
/// Most characters of a signing secret (it is stored and hashed as given).
pub const MAX_SECRET_CHARS: usize = 512;
/// Longest target URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
/// Most targets, configured and added through the admin API together: each event is queued
/// once per target, so this bounds an enqueue's work.
pub const MAX_TARGETS: usize = 100;

/// Webhook settings. Durations are humantime strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Targets set by configuration, beside those added through `POST /v1/webhooks`.
    pub targets: Vec<TargetConfig>,
    /// Deadline of one delivery attempt (connect, send, response headers).
    #[serde(with = "humantime_serde")]
    pub attempt_timeout: Duration,
    /// Wait before the first retry; each further retry waits twice as long (with jitter).
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    /// Longest wait between two attempts.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// An event still undelivered this long after it was queued is given up (counted).
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// Most events queued per target; past it the oldest is dropped (counted, logged).
    pub max_queue: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            attempt_timeout: Duration::from_secs(10),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(600),
            max_age: Duration::from_secs(24 * 3600),
            max_queue: 10_000,
        }
    }
}

/// One target: where events are POSTed, and the secret their signature is made with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// The signing secret, stored as given and never logged.
    pub secret: String,
}

/// Hand-written so the secret can never reach a log through `{:?}`.
impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl WebhooksConfig {
    /// Every problem with these settings, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut bad = Vec::new();
        if self.targets.len() > MAX_TARGETS {
            bad.push(format!("webhooks.targets: at most {MAX_TARGETS} targets"));
        }
        let mut urls = HashSet::new();
        for (index, target) in self.targets.iter().enumerate() {
            if let Err(why) = check_target(&target.url, &target.secret) {
                bad.push(format!("webhooks.targets[{index}]: {why}"));
            }
            if !urls.insert(target.url.as_str()) {
                bad.push(format!("webhooks.targets[{index}]: url listed twice"));
            }
        }
        if self.attempt_timeout < Duration::from_millis(1) {
            bad.push("webhooks.attempt_timeout must be at least 1ms".into());
        }
        if self.retry_initial < Duration::from_millis(1) {
            bad.push("webhooks.retry_initial must be at least 1ms".into());
        }
        if self.retry_max < self.retry_initial {
            bad.push("webhooks.retry_max must be at least retry_initial".into());
        }
        if self.max_age < Duration::from_secs(1) {
            bad.push("webhooks.max_age must be at least 1s".into());
        }
        if !(1..=1_000_000).contains(&self.max_queue) {
            bad.push("webhooks.max_queue must be 1..=1000000".into());
        }
        bad
    }
}

/// Checks a target's URL and secret; the message never shows the secret.
pub fn check_target(url: &str, secret: &str) -> Result<(), String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("url must be at most {MAX_URL_CHARS} characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|error| format!("url is invalid: {error}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("url must start with http:// or https://".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("url must name a host".into());
    }
    let chars = secret.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars) {
        return Err(format!(
            "secret must be {MIN_SECRET_CHARS}..={MAX_SECRET_CHARS} characters \
             (make one with `openssl rand -hex 32`)"
        ));
    }
    if secret.chars().any(char::is_control) {
        return Err("secret must be printable".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "whsec-0123456789abcdef";

    fn with_target(url: &str, secret: &str) -> WebhooksConfig {
        WebhooksConfig {
            targets: vec![TargetConfig {
                url: url.into(),
                secret: secret.into(),
            }],
            ..WebhooksConfig::default()
        }
    }

    #[test]
    fn defaults_are_valid_and_targets_checked() {
        assert!(WebhooksConfig::default().problems().is_empty());
        assert!(
            with_target("http://127.0.0.1:9/hook", SECRET)
                .problems()
                .is_empty()
        );
        assert!(
            with_target("https://hooks.example/x?y=1", SECRET)
                .problems()
                .is_empty()
        );
        for url in ["ftp://x/", "not a url", "http://", "file:///etc/passwd"] {
            let problems = with_target(url, SECRET).problems();
            assert!(
                problems[0].contains("targets[0]: url"),
                "{url}: {problems:?}"
            );
        }
        let problems = with_target("http://x/", "short-secret").problems();
        assert!(problems[0].contains("secret must be"), "{problems:?}");
        assert!(!problems[0].contains("short-secret"));
    }

    #[test]
    fn debug_hides_secrets_and_serde_refuses_unknown_keys() {
        let config = with_target("http://x/", SECRET);
        assert!(!format!("{config:?}").contains(SECRET));
        let parsed: WebhooksConfig = serde_json::from_str(
            r#"{"targets":[{"url":"http://x/","secret":"s"}],"retry_max":"1m"}"#,
        )
        .unwrap();
        assert_eq!(parsed.retry_max, Duration::from_secs(60));
        assert!(serde_json::from_str::<WebhooksConfig>(r#"{"target":[]}"#).is_err());
        assert!(
            serde_json::from_str::<WebhooksConfig>(
                r#"{"targets":[{"url":"u","secret":"s","x":1}]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn a_duplicate_url_and_bad_timings_are_named() {
        let mut config = with_target("http://x/", SECRET);
        config.targets.push(config.targets[0].clone());
        config.retry_initial = Duration::from_secs(5);
        config.retry_max = Duration::from_secs(1);
        config.max_queue = 0;
        let problems = config.problems().join("; ");
        for key in ["targets[1]: url listed twice", "retry_max", "max_queue"] {
            assert!(problems.contains(key), "{problems}");
        }
    }
}
