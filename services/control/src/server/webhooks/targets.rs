//! Webhook targets: those of the configuration (in memory, the same on every replica) and
//! those added through the admin API (in Redis, so every replica sees them). Secrets are kept
//! as given, shown by no listing and no `Debug`.

use std::fmt;
use std::sync::LazyLock;

use redis::Script;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::super::repo::{Repo, RepoError, decode, encode};
use super::keys;

/// Adds a target if fewer than ARGV[3] are stored: 1 added, 0 full.
static ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
if redis.call('HLEN', '{targets}') >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', '{targets}', ARGV[1], ARGV[2])
return 1
",
        targets = keys::TARGETS
    ))
});

/// Removes a target with its queue, claim and attempts: 1 removed, 0 unknown.
static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
if redis.call('HDEL', '{targets}', ARGV[1]) == 0 then return 0 end
redis.call('DEL', '{queue}' .. ARGV[1], '{claim}' .. ARGV[1])
redis.call('ZREM', '{due}', ARGV[1])
redis.call('HDEL', '{attempts}', ARGV[1])
return 1
",
        targets = keys::TARGETS,
        queue = keys::QUEUE,
        claim = keys::CLAIM,
        due = keys::DUE,
        attempts = keys::ATTEMPTS,
    ))
});

/// Where a target was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `control.webhooks.targets`.
    Config,
    /// `POST /v1/webhooks`.
    Api,
}

/// A target events are POSTed to.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// `cfg_<hash of the URL>` for configured targets, `wh_<random>` for the API's.
    pub id: String,
    /// Where to POST.
    pub url: String,
    /// The signing secret, as given.
    pub secret: String,
    /// Where it was set.
    pub source: Source,
    /// When it was added (API targets), Unix milliseconds.
    pub created_at_ms: u64,
}

/// Hand-written so the secret never reaches a log.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// A target as the admin API shows it: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    /// Its id.
    pub id: String,
    /// Its URL.
    pub url: String,
    /// `config` or `api`.
    pub source: Source,
    /// When it was added (0 for configured ones), Unix milliseconds.
    pub created_at_ms: u64,
}

impl From<&Target> for TargetView {
    fn from(target: &Target) -> Self {
        Self {
            id: target.id.clone(),
            url: target.url.clone(),
            source: target.source,
            created_at_ms: target.created_at_ms,
        }
    }
}

/// An API target as stored in Redis.
#[derive(Serialize, Deserialize)]
struct Stored {
    url: String,
    secret: String,
    created_at_ms: u64,
}

/// The id of a configured target: the same on every replica with the same URL, so its
/// queue survives restarts and a secret rotation.
pub fn config_target_id(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    format!("cfg_{}", hex::encode(&digest[..8]))
}

/// A fresh id for an API target.
pub fn new_api_target_id() -> String {
    format!("wh_{}", hex::encode(rand::random::<[u8; 8]>()))
}

impl Repo {
    /// Stores an API target unless `max` are stored already (`false` then).
    pub async fn add_webhook_target(&self, target: &Target, max: usize) -> Result<bool, RepoError> {
        let stored = Stored {
            url: target.url.clone(),
            secret: target.secret.clone(),
            created_at_ms: target.created_at_ms,
        };
        let json = encode(&stored, &target.id)?;
        let mut con = self.con();
        let added: i64 = self
            .deadline(
                "add webhook target",
                ADD.arg(&target.id)
                    .arg(json)
                    .arg(max)
                    .invoke_async(&mut con),
            )
            .await?;
        Ok(added == 1)
    }

    /// An API target by id.
    pub async fn webhook_target(&self, id: &str) -> Result<Option<Target>, RepoError> {
        let mut con = self.con();
        let raw: Option<String> = self
            .deadline(
                "get webhook target",
                redis::cmd("HGET")
                    .arg(keys::TARGETS)
                    .arg(id)
                    .query_async(&mut con),
            )
            .await?;
        raw.map(|raw| stored_target(id, &raw)).transpose()
    }

    /// Every API target, oldest first.
    pub async fn webhook_targets(&self) -> Result<Vec<Target>, RepoError> {
        let mut con = self.con();
        let all: Vec<(String, String)> = self
            .deadline(
                "list webhook targets",
                redis::cmd("HGETALL")
                    .arg(keys::TARGETS)
                    .query_async(&mut con),
            )
            .await?;
        let mut targets = all
            .iter()
            .map(|(id, raw)| stored_target(id, raw))
            .collect::<Result<Vec<_>, _>>()?;
        targets.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(targets)
    }

    /// Removes an API target and what is queued for it; `false` if unknown.
    pub async fn remove_webhook_target(&self, id: &str) -> Result<bool, RepoError> {
        let mut con = self.con();
        let removed: i64 = self
            .deadline(
                "remove webhook target",
                REMOVE.arg(id).invoke_async(&mut con),
            )
            .await?;
        Ok(removed == 1)
    }
}

fn stored_target(id: &str, raw: &str) -> Result<Target, RepoError> {
    let stored: Stored = decode(raw, &format!("{}[{id}]", keys::TARGETS))?;
    Ok(Target {
        id: id.to_owned(),
        url: stored.url,
        secret: stored.secret,
        source: Source::Api,
        created_at_ms: stored.created_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_debug() {
        assert_eq!(config_target_id("http://a/"), config_target_id("http://a/"));
        assert_ne!(config_target_id("http://a/"), config_target_id("http://b/"));
        assert!(config_target_id("http://a/").starts_with("cfg_"));
        assert_eq!(new_api_target_id().len(), "wh_".len() + 16);
        let target = Target {
            id: "wh_1".into(),
            url: "http://a/".into(),
            secret: "very-secret-value".into(),
            source: Source::Api,
            created_at_ms: 1,
        };
        assert!(!format!("{target:?}").contains("very-secret-value"));
        let view = serde_json::to_string(&TargetView::from(&target)).unwrap_or_default();
        assert!(!view.contains("very-secret-value") && view.contains(r#""source":"api""#));
    }
}
