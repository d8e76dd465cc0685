//! The Redis side of [`LeaseStore`]: a lease is `fc:lease:<id>` (JSON, with a TTL), epochs
//! come from `INCR fc:epoch:<id>`, which never resets. Every state change is one Lua script,
//! so check and write are atomic; the rules that call them live in
//! [`LeasePolicy`](crate::LeasePolicy).

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use ferrocast_base::{Epoch, StreamId};
use ferrocast_store::RedisLink;
use redis::Script;

use super::config::millis;
use super::keys;
use super::repo::{Repo, RepoError, decode};
use crate::lease::{Attempt, Claim, Lease, LeaseStore, LeaseStoreError, Release, Renewal, Renewed};

/// Writes a lease as JSON. Assembled by hand rather than with `cjson.encode` of a table
/// because cjson prints numbers with 14 significant digits; strings still go through cjson
/// for escaping.
const PUT_LEASE_LUA: &str = r#"
local function put_lease(key, ttl_ms, origin, epoch, started_at_ms, relay, media_at_ms)
  local lease = '{"origin_id":' .. cjson.encode(origin)
    .. ',"epoch":' .. string.format('%d', epoch)
    .. ',"started_at_ms":' .. string.format('%d', started_at_ms)
    .. ',"relay_url":' .. cjson.encode(relay)
    .. ',"media_at_ms":' .. string.format('%d', media_at_ms) .. '}'
  redis.call('SET', key, lease, 'PX', ttl_ms)
end
"#;

/// Grants the stream if there is no lease, or replaces a lease whose holder had no media for
/// more than the takeover time. Returns `{epoch, replaced epoch or 0}` when granted,
/// `{0, holder epoch, holder media_at_ms}` when the holder keeps it.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{PUT_LEASE_LUA}
-- KEYS: lease, epoch counter, holder; ARGV: origin id, now ms, relay url, ttl ms,
-- takeover after ms
local now = tonumber(ARGV[2])
local replaced = 0
local raw = redis.call('GET', KEYS[1])
if raw then
  local lease = cjson.decode(raw)
  local media_at = tonumber(lease.media_at_ms) or 0
  if now - media_at <= tonumber(ARGV[5]) then
    return {{0, lease.epoch, media_at}}
  end
  replaced = lease.epoch
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[3], ARGV[1])
put_lease(KEYS[1], ARGV[4], ARGV[1], epoch, now, ARGV[3], now)
return {{epoch, replaced}}
"
    ))
});

/// Deletes the lease only if it still carries the caller's epoch and names the caller: 1 when
/// deleted, 0 when it expired or moved on (a stale release, nothing to do), -1 when that epoch
/// belongs to another origin (epochs are unique per stream, so only a foreign caller can
/// present it). A release also moves the epoch counter on, so a heartbeat sent before the
/// release and arriving after it cannot restore the ended lease.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: lease, epoch counter; ARGV: epoch, origin id
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local lease = cjson.decode(raw)
if lease.epoch ~= tonumber(ARGV[1]) then return 0 end
if lease.origin_id ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
return 1
",
    )
});

/// Per stream: extends the caller's lease with the newer media time (1), restores a lapsed
/// lease whose epoch is still the counter's value and was granted to the caller (2), or does
/// nothing (0).
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{PUT_LEASE_LUA}
-- KEYS: lease, epoch counter and holder of each stream, in threes
-- ARGV: ttl ms, origin id, now ms, relay url, then epoch and media_at ms of each stream
local answers = {{}}
for i = 1, #KEYS / 3 do
  local lease_key, epoch_key, holder_key = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local epoch = tonumber(ARGV[3 + 2 * i])
  local media_at = tonumber(ARGV[4 + 2 * i])
  answers[i] = 0
  local raw = redis.call('GET', lease_key)
  if raw then
    local lease = cjson.decode(raw)
    if lease.epoch == epoch and lease.origin_id == ARGV[2] then
      local newest_media = math.max(tonumber(lease.media_at_ms) or 0, media_at)
      put_lease(lease_key, ARGV[1], lease.origin_id, epoch, lease.started_at_ms,
        lease.relay_url, newest_media)
      answers[i] = 1
    end
  elseif tonumber(redis.call('GET', epoch_key) or '0') == epoch
      and redis.call('GET', holder_key) == ARGV[2] then
    put_lease(lease_key, ARGV[1], ARGV[2], epoch, tonumber(ARGV[3]), ARGV[4], media_at)
    answers[i] = 2
  end
end
return answers
"
    ))
});

/// Leases in Redis, behind the control service's per-call deadline.
#[derive(Clone)]
pub struct RedisLeaseStore {
    repo: Repo,
    ttl: Duration,
}

impl RedisLeaseStore {
    /// Leases over `redis` that lapse `ttl` after their last grant or renewal; every call
    /// gives up after `timeout`.
    pub fn new(redis: RedisLink, timeout: Duration, ttl: Duration) -> Self {
        Self::over(Repo::new(redis, timeout), ttl)
    }

    /// Leases in the service's repository.
    pub(crate) fn over(repo: Repo, ttl: Duration) -> Self {
        Self { repo, ttl }
    }
}

fn store_error(error: RepoError) -> LeaseStoreError {
    super::metrics::redis_failed();
    match error {
        RepoError::Corrupt { .. } => LeaseStoreError::Corrupt(error.to_string()),
        _ => LeaseStoreError::Unavailable(Box::new(error)),
    }
}

#[async_trait]
impl LeaseStore for RedisLeaseStore {
    async fn try_acquire(
        &self,
        stream_id: &StreamId,
        claim: Claim<'_>,
        now_ms: u64,
        takeover_after_ms: u64,
    ) -> Result<Attempt, LeaseStoreError> {
        let mut con = self.repo.con();
        let answer: Vec<u64> = self
            .repo
            .deadline(
                "acquire lease",
                ACQUIRE
                    .key(keys::lease(stream_id))
                    .key(keys::epoch(stream_id))
                    .key(keys::holder(stream_id))
                    .arg(claim.origin_id)
                    .arg(now_ms)
                    .arg(claim.relay_url)
                    .arg(millis(self.ttl))
                    .arg(takeover_after_ms)
                    .invoke_async(&mut con),
            )
            .await
            .map_err(store_error)?;
        match answer.as_slice() {
            [0, epoch, media_at_ms] => Ok(Attempt::Held {
                epoch: Epoch(*epoch),
                media_at_ms: *media_at_ms,
            }),
            [epoch, replaced] if *epoch > 0 => {
                if let Err(unconfirmed) = self.repo.wait_replicas("acquire lease", &mut con).await {
                    // The caller hears "unavailable" and retries; a grant left behind would
                    // make that retry find its own lease live. Best effort: at worst it
                    // expires on its own.
                    let _ = self
                        .release(stream_id, Epoch(*epoch), claim.origin_id)
                        .await;
                    return Err(store_error(unconfirmed));
                }
                Ok(Attempt::Granted {
                    epoch: Epoch(*epoch),
                    replaced: (*replaced > 0).then_some(Epoch(*replaced)),
                })
            }
            other => Err(LeaseStoreError::Corrupt(format!(
                "acquire script answered {other:?}"
            ))),
        }
    }

    async fn release(
        &self,
        stream_id: &StreamId,
        epoch: Epoch,
        origin_id: &str,
    ) -> Result<Release, LeaseStoreError> {
        let mut con = self.repo.con();
        let outcome: i64 = self
            .repo
            .deadline(
                "release lease",
                RELEASE
                    .key(keys::lease(stream_id))
                    .key(keys::epoch(stream_id))
                    .arg(epoch.get())
                    .arg(origin_id)
                    .invoke_async(&mut con),
            )
            .await
            .map_err(store_error)?;
        Ok(match outcome {
            1 => Release::Released,
            -1 => Release::HeldByAnother,
            _ => Release::Stale,
        })
    }

    async fn renew(
        &self,
        claim: Claim<'_>,
        renewals: &[Renewal],
        now_ms: u64,
    ) -> Result<Vec<Renewed>, LeaseStoreError> {
        if renewals.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = RENEW.prepare_invoke();
        invocation
            .arg(millis(self.ttl))
            .arg(claim.origin_id)
            .arg(now_ms)
            .arg(claim.relay_url);
        for renewal in renewals {
            invocation
                .key(keys::lease(&renewal.stream_id))
                .key(keys::epoch(&renewal.stream_id))
                .key(keys::holder(&renewal.stream_id))
                .arg(renewal.epoch.get())
                .arg(renewal.media_at_ms);
        }
        let mut con = self.repo.con();
        let answers: Vec<i64> = self
            .repo
            .deadline("renew leases", invocation.invoke_async(&mut con))
            .await
            .map_err(store_error)?;
        let answers = answers.into_iter().chain(std::iter::repeat(0));
        Ok(renewals
            .iter()
            .zip(answers)
            .map(|(_, answer)| match answer {
                1 => Renewed::Extended,
                2 => Renewed::Restored,
                _ => Renewed::Lost,
            })
            .collect())
    }

    async fn lease(
        &self,
        stream_id: &StreamId,
        _now_ms: u64,
    ) -> Result<Option<Lease>, LeaseStoreError> {
        self.repo.lease(stream_id).await.map_err(store_error)
    }
}

impl Repo {
    /// The current lease of a stream, if live.
    pub async fn lease(&self, stream_id: &StreamId) -> Result<Option<Lease>, RepoError> {
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
    pub async fn leases(&self, stream_ids: &[&StreamId]) -> Result<Vec<Option<Lease>>, RepoError> {
        let keys: Vec<String> = stream_ids.iter().map(|id| keys::lease(id)).collect();
        let raws = self.mget("get leases", &keys).await?;
        keys.iter()
            .zip(raws)
            .map(|(key, raw)| raw.map(|raw| decode(&raw, key)).transpose())
            .collect()
    }
}
