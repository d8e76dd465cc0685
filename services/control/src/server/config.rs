//! Settings of the `ferrocast control` role.

use std::fmt;
use std::time::Duration;

use ferrocast_control_client::DEFAULT_TAKEOVER_AFTER;
use serde::{Deserialize, Serialize};

use super::ServerError;
use super::webhooks::WebhooksConfig;
use crate::Retention;

/// The origins' default reconnect window, which control's must equal.
pub const DEFAULT_RECONNECT_WINDOW: Duration = Duration::from_secs(60);

/// Fewest characters of an admin token: a bearer token must resist guessing on its own.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// Settings of the control service. Durations are humantime strings (`"10s"`, `"500ms"`).
///
/// `Serialize` lets the binary layer defaults, TOML and environment; `Debug` redacts the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// The RTMP application publishers must use (`rtmp://<ingest>/<publish_app>/<key>`).
    pub publish_app: String,
    /// Bearer token of the REST admin API, at least [`MIN_ADMIN_TOKEN_CHARS`] characters.
    /// There is no default: the service refuses to start without one.
    pub admin_token: String,
    /// A placement lease expires this long after its last renewal (acquire or heartbeat).
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// A publisher may take over a live stream whose holder reported no media for longer
    /// than this; otherwise its authorization waits up to this plus 250 ms for that to
    /// happen, then is refused. Keep it above the origins' heartbeat_interval.
    #[serde(with = "humantime_serde")]
    pub takeover_after: Duration,
    /// A node registration expires this long after its last heartbeat.
    #[serde(with = "humantime_serde")]
    pub node_ttl: Duration,
    /// What publishers are told to push to, app included: `rtmp://ingest.example:1935/live`.
    pub public_rtmp_url: String,
    /// Where viewers play from: `http://edge.example:8080`.
    pub public_play_url: String,
    /// Deadline of every Redis call.
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
    /// How long after a publish ends `stream.idle` follows `stream.disconnected` if no
    /// publish came back. Keep it equal to the origins' `origin.reconnect_window`.
    #[serde(with = "humantime_serde")]
    pub reconnect_window: Duration,
    /// Signed webhooks: targets and retries.
    pub webhooks: WebhooksConfig,
    /// Recordings (live to VOD, ADR 21).
    pub recordings: RecordingsConfig,
}

/// The `control.recordings` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingsConfig {
    /// How long a stream's recordings are kept when the stream says `"default"`: `"off"`
    /// (record nothing, the default) or a duration like `"7d"`.
    pub retention: Retention,
    /// The longest one recording grows; past it the recording stops (the stream goes on).
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// The shortest retention a stream may ask for; lower it only for tests.
    #[serde(with = "humantime_serde")]
    pub min_retention: Duration,
    /// How often each control replica looks for recordings that became ready or expired.
    #[serde(with = "humantime_serde")]
    pub reap_interval: Duration,
}

impl Default for RecordingsConfig {
    fn default() -> Self {
        Self {
            retention: Retention::Off,
            max_duration: Duration::from_secs(12 * 3600),
            min_retention: Duration::from_secs(3600),
            reap_interval: Duration::from_secs(10),
        }
    }
}

impl RecordingsConfig {
    /// A stream's retention setting, checked against `min_retention`.
    pub(crate) fn check(&self, retention: Retention) -> Result<(), String> {
        match retention {
            Retention::Keep(kept) if kept < self.min_retention => Err(format!(
                "recording retention must be at least {} (control.recordings.min_retention)",
                humantime::format_duration(self.min_retention)
            )),
            _ => Ok(()),
        }
    }
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            publish_app: "live".into(),
            admin_token: String::new(),
            lease_ttl: Duration::from_secs(10),
            takeover_after: DEFAULT_TAKEOVER_AFTER,
            node_ttl: Duration::from_secs(10),
            public_rtmp_url: "rtmp://localhost:1935/live".into(),
            public_play_url: "http://localhost:8080".into(),
            redis_timeout: Duration::from_secs(2),
            reconnect_window: DEFAULT_RECONNECT_WINDOW,
            webhooks: WebhooksConfig::default(),
            recordings: RecordingsConfig::default(),
        }
    }
}

/// Hand-written so the admin token can never reach a log through `{:?}`.
impl fmt::Debug for ControlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.admin_token.is_empty() {
            "<empty>"
        } else {
            "<redacted>"
        };
        f.debug_struct("ControlConfig")
            .field("publish_app", &self.publish_app)
            .field("admin_token", &token)
            .field("lease_ttl", &self.lease_ttl)
            .field("takeover_after", &self.takeover_after)
            .field("node_ttl", &self.node_ttl)
            .field("public_rtmp_url", &self.public_rtmp_url)
            .field("public_play_url", &self.public_play_url)
            .field("redis_timeout", &self.redis_timeout)
            .field("reconnect_window", &self.reconnect_window)
            .field("webhooks", &self.webhooks)
            .field("recordings", &self.recordings)
            .finish()
    }
}

impl ControlConfig {
    /// Checks every setting, naming each bad key.
    pub fn validate(&self) -> Result<(), ServerError> {
        let mut bad = Vec::new();
        if self.publish_app.is_empty() || self.publish_app.contains('/') {
            bad.push("publish_app must be a non-empty name without '/'");
        }
        if self.admin_token.trim().chars().count() < MIN_ADMIN_TOKEN_CHARS {
            bad.push(
                "admin_token must be at least 32 characters; there is no default secret \
                 (make one with `openssl rand -hex 32`)",
            );
        }
        // Lua scripts take the TTLs in whole milliseconds; PX refuses 0.
        if self.lease_ttl < Duration::from_millis(1) {
            bad.push("lease_ttl must be at least 1ms");
        }
        if self.takeover_after < Duration::from_millis(1) {
            bad.push("takeover_after must be at least 1ms");
        }
        if self.node_ttl < Duration::from_millis(1) {
            bad.push("node_ttl must be at least 1ms");
        }
        if self.redis_timeout.is_zero() {
            bad.push("redis_timeout must be positive");
        }
        let recordings = &self.recordings;
        if recordings.retention == Retention::Default {
            bad.push("recordings.retention must be \"off\" or a duration");
        }
        if recordings.check(recordings.retention).is_err() {
            bad.push("recordings.retention must be at least recordings.min_retention");
        }
        if recordings.max_duration < Duration::from_secs(1) {
            bad.push("recordings.max_duration must be at least 1s");
        }
        if recordings.reap_interval < Duration::from_millis(100) {
            bad.push("recordings.reap_interval must be at least 100ms");
        }
        if !self.public_rtmp_url.starts_with("rtmp://")
            && !self.public_rtmp_url.starts_with("rtmps://")
        {
            bad.push("public_rtmp_url must start with rtmp:// or rtmps://");
        }
        if !self.public_play_url.starts_with("http://")
            && !self.public_play_url.starts_with("https://")
        {
            bad.push("public_play_url must start with http:// or https://");
        }
        if self.reconnect_window < Duration::from_millis(1) {
            bad.push("reconnect_window must be at least 1ms");
        }
        let mut bad: Vec<String> = bad.into_iter().map(str::to_owned).collect();
        bad.extend(self.webhooks.problems());
        if bad.is_empty() {
            Ok(())
        } else {
            Err(ServerError::Config(bad.join("; ")))
        }
    }

    /// How long nodes may go between heartbeats before something they hold expires.
    pub(crate) fn heartbeat_ttl(&self) -> Duration {
        self.lease_ttl.min(self.node_ttl)
    }
}

/// A duration in whole milliseconds, at least 1 (Redis `PX` refuses 0).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_need_only_a_token() {
        assert!(ControlConfig::default().validate().is_err());
        let config = ControlConfig {
            admin_token: TOKEN.into(),
            ..ControlConfig::default()
        };
        config.validate().unwrap();
    }

    #[test]
    fn a_short_admin_token_is_refused_without_showing_it() {
        for short in ["", "   ", &TOKEN[..31], &format!(" {} ", &TOKEN[..31])] {
            let config = ControlConfig {
                admin_token: short.to_owned(),
                ..ControlConfig::default()
            };
            let message = config.validate().unwrap_err().to_string();
            assert!(
                message.contains("admin_token must be at least 32"),
                "{message}"
            );
            assert!(short.trim().is_empty() || !message.contains(short.trim()));
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let config = ControlConfig {
            admin_token: "supersecret".into(),
            ..ControlConfig::default()
        };
        assert!(!format!("{config:?}").contains("supersecret"));
    }

    #[test]
    fn parses_humantime_and_refuses_unknown_keys() {
        let config: ControlConfig =
            serde_json::from_str(r#"{"lease_ttl":"1500ms","admin_token":"x"}"#).unwrap();
        assert_eq!(config.lease_ttl, Duration::from_millis(1500));
        assert!(serde_json::from_str::<ControlConfig>(r#"{"leas_ttl":"1s"}"#).is_err());
    }
}
