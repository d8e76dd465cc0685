//! Placement leases: which origin publishes a stream, under which fencing epoch.
//!
//! A lease is `fc:lease:<id>` with a TTL; epochs come from `INCR fc:epoch:<id>` inside the
//! acquire script, so they only grow and a later owner always fences an earlier one (the
//! segment index refuses writes that carry a stale epoch). Every state change is one Lua
//! script, so check and write are atomic.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};

use super::config::millis;
use super::keys;
use super::repo::{Repo, RepoError, decode};

/// Grants a lease unless one exists; returns the new epoch, or 0 when already live.
///
/// The JSON is assembled here rather than with `cjson.encode` of a table because cjson
/// prints numbers with 14 significant digits; strings still go through cjson for escaping.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS: lease, epoch counter; ARGV: origin id, started_at_ms, relay url, ttl ms
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
local lease = '{"origin_id":' .. cjson.encode(ARGV[1])
  .. ',"epoch":' .. string.format('%d', epoch)
  .. ',"started_at_ms":' .. string.format('%d', tonumber(ARGV[2]))
  .. ',"relay_url":' .. cjson.encode(ARGV[3]) .. '}'
redis.call('SET', KEYS[1], lease, 'PX', ARGV[4])
return epoch
"#,
    )
});

/// Deletes the lease only if it still carries the caller's epoch and names the caller: 1 when
/// deleted, 0 when it expired or moved on (a stale release, nothing to do), -1 when that epoch
/// belongs to another origin (epochs are unique per stream, so only a foreign caller can
/// present it).
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: lease; ARGV: epoch, origin id
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local lease = cjson.decode(raw)
if lease.epoch ~= tonumber(ARGV[1]) then return 0 end
if lease.origin_id ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1])
return 1
",
    )
});

/// Extends each lease whose epoch matches and that the renewing origin holds; returns 1/0 per
/// key.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: leases; ARGV[1]: ttl ms, ARGV[2]: origin id, ARGV[i + 2]: the epoch expected for KEYS[i]
local renewed = {}
for i, key in ipairs(KEYS) do
  renewed[i] = 0
  local raw = redis.call('GET', key)
  if raw then
    local lease = cjson.decode(raw)
    if lease.epoch == tonumber(ARGV[i + 2]) and lease.origin_id == ARGV[2] then
      redis.call('PEXPIRE', key, ARGV[1])
      renewed[i] = 1
    end
  end
end
return renewed
",
    )
});

/// What asking to end a lease did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The caller held the lease; it is gone.
    Released,
    /// No lease with that epoch exists any more (expired, or taken over): nothing to do.
    Stale,
    /// That epoch's lease belongs to another origin; it stays.
    HeldByAnother,
}

/// A live stream's placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The origin publishing the stream.
    pub origin_id: String,
    /// Fencing epoch of this publish session.
    pub epoch: u64,
    /// When the lease was granted, Unix milliseconds.
    pub started_at_ms: u64,
    /// The origin's relay URL when the lease was granted (may be empty if it had not
    /// registered yet; readers then fall back to its current registration).
    pub relay_url: String,
}

impl Repo {
    /// Places `stream_id` on `origin_id`: the new epoch, or `None` if the stream is live.
    pub async fn acquire_lease(
        &self,
        stream_id: &str,
        origin_id: &str,
        relay_url: &str,
        now_ms: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, RepoError> {
        let mut con = self.con();
        let epoch: u64 = self
            .deadline(
                "acquire lease",
                ACQUIRE
                    .key(keys::lease(stream_id))
                    .key(keys::epoch(stream_id))
                    .arg(origin_id)
                    .arg(now_ms)
                    .arg(relay_url)
                    .arg(millis(ttl))
                    .invoke_async(&mut con),
            )
            .await?;
        if epoch > 0
            && let Err(unconfirmed) = self.wait_replicas("acquire lease", &mut con).await
        {
            // The caller hears "unavailable" and retries; a grant left behind would make that
            // retry find its own lease live. Best effort: at worst it expires on its own.
            let _ = self.release_lease(stream_id, epoch, origin_id).await;
            return Err(unconfirmed);
        }
        Ok((epoch > 0).then_some(epoch))
    }

    /// Ends the lease if it still has `epoch` and `origin_id` holds it.
    pub async fn release_lease(
        &self,
        stream_id: &str,
        epoch: u64,
        origin_id: &str,
    ) -> Result<Release, RepoError> {
        let mut con = self.con();
        let outcome: i64 = self
            .deadline(
                "release lease",
                RELEASE
                    .key(keys::lease(stream_id))
                    .arg(epoch)
                    .arg(origin_id)
                    .invoke_async(&mut con),
            )
            .await?;
        Ok(match outcome {
            1 => Release::Released,
            -1 => Release::HeldByAnother,
            _ => Release::Stale,
        })
    }

    /// Renews each `(stream id, epoch)` lease that still has that epoch and that `origin_id`
    /// holds, in one round trip. Returns the stream ids whose lease was not renewed (lost,
    /// expired, or never this origin's).
    pub async fn renew_leases(
        &self,
        origin_id: &str,
        leases: &[(String, u64)],
        ttl: Duration,
    ) -> Result<Vec<String>, RepoError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = RENEW.prepare_invoke();
        invocation.arg(millis(ttl)).arg(origin_id);
        for (stream_id, epoch) in leases {
            invocation.key(keys::lease(stream_id)).arg(*epoch);
        }
        let mut con = self.con();
        let renewed: Vec<i64> = self
            .deadline("renew leases", invocation.invoke_async(&mut con))
            .await?;
        let lost = leases
            .iter()
            .zip(renewed.into_iter().chain(std::iter::repeat(0)))
            .filter(|(_, renewed)| *renewed != 1)
            .map(|((stream_id, _), _)| stream_id.clone())
            .collect();
        Ok(lost)
    }

    /// The current lease of a stream, if live.
    pub async fn lease(&self, stream_id: &str) -> Result<Option<Lease>, RepoError> {
        let key = keys::lease(stream_id);
        let mut con = self.con();
        let raw: Option<String> = self
            .deadline(
                "get lease",
                redis::cmd("GET").arg(&key).query_async(&mut con),
            )
            .await?;
        raw.map(|raw| decode(&raw, &key)).transpose()
    }

    /// The current leases of many streams, in order.
    pub async fn leases(&self, stream_ids: &[&str]) -> Result<Vec<Option<Lease>>, RepoError> {
        let keys: Vec<String> = stream_ids.iter().map(|id| keys::lease(id)).collect();
        let raws = self.mget("get leases", &keys).await?;
        keys.iter()
            .zip(raws)
            .map(|(key, raw)| raw.map(|raw| decode(&raw, key)).transpose())
            .collect()
    }
}
