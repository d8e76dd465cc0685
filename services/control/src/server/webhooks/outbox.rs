//! The outbox in Redis: one FIFO list of events per target, a sorted set of targets by when
//! their head is due, and a claim per target with a time-out, so every replica may deliver
//! but a target's events go out one at a time, in order, from one replica.
//!
//! Every change is one Lua script. The scripts that queue events share [`PRELUDE`]: it reads
//! the common arguments (now, dedupe time, queue cap, configured target ids), collects the
//! targets added through the admin API, and defines `push(id, body)` (queue once per id, to
//! every target, dropping the oldest past the cap) and `emit(id, type, data)` (the same,
//! building the payload).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::{Script, ScriptInvocation};
use serde::Deserialize;

use super::super::config::millis;
use super::super::repo::{Repo, RepoError, decode};
use super::keys;

/// An event id is queued at most once within this time (the dedupe guard's life).
pub const DEDUPE_FOR: Duration = Duration::from_secs(48 * 3600);

/// Most targets one stats call looks at (orphaned queues beyond are not counted).
const STATS_TARGETS: usize = 1000;

/// Shared by the scripts that queue events; see the module documentation.
pub(super) static PRELUDE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"
local K_TARGETS, K_SEEN, K_QUEUE, K_DUE = '{targets}', '{seen}', '{queue}', '{due}'
local NOW = tonumber(ARGV[1])
local DEDUPE_MS, CAP = ARGV[2], tonumber(ARGV[3])
local TARGETS = {{}}
local n_config = tonumber(ARGV[4])
for i = 1, n_config do TARGETS[i] = ARGV[4 + i] end
for _, t in ipairs(redis.call('HKEYS', K_TARGETS)) do TARGETS[#TARGETS + 1] = t end
local A = 5 + n_config
local KINDS, dropped = {{}}, 0
local function fmt(n) return string.format('%d', n) end
-- The answer of every such script: dropped, its own count, then the kinds queued.
local function answer(extra)
  local out = {{fmt(dropped), fmt(extra or 0)}}
  for _, kind in ipairs(KINDS) do out[#out + 1] = kind end
  return out
end
local function push(id, body, kind)
  if not redis.call('SET', K_SEEN .. id, '1', 'NX', 'PX', DEDUPE_MS) then return end
  local item = '{{"id":' .. cjson.encode(id) .. ',"type":' .. cjson.encode(kind)
    .. ',"enqueued_ms":' .. fmt(NOW)
    .. ',"body":' .. cjson.encode(body) .. '}}'
  for _, t in ipairs(TARGETS) do
    local q = K_QUEUE .. t
    local len = redis.call('RPUSH', q, item)
    while len > CAP do
      redis.call('LPOP', q)
      len = len - 1
      dropped = dropped + 1
    end
    redis.call('ZADD', K_DUE, 'NX', NOW, t)
  end
  KINDS[#KINDS + 1] = kind
end
local function emit(id, kind, data)
  push(id, '{{"id":' .. cjson.encode(id) .. ',"type":"' .. kind .. '","created_at_ms":'
    .. fmt(NOW) .. ',"data":' .. data .. '}}', kind)
end
"#,
        targets = keys::TARGETS,
        seen = keys::SEEN,
        queue = keys::QUEUE,
        due = keys::DUE,
    )
});

/// Queues one event. ARGV after the prelude's: id, body, type.
static PUSH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}\npush(ARGV[A], ARGV[A + 1], ARGV[A + 2])\nreturn answer()",
        *PRELUDE
    ))
});

/// Claims up to ARGV[3] due targets for ARGV[2] ms under token ARGV[4] (ARGV[1]: now):
/// returns target, head item and attempts record, in threes.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local K_QUEUE, K_DUE, K_CLAIM, K_ATTEMPTS = '{queue}', '{due}', '{claim}', '{attempts}'
local now, vis = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', K_DUE, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {{}}
for _, t in ipairs(due) do
  local head = redis.call('LINDEX', K_QUEUE .. t, 0)
  if not head then
    redis.call('ZREM', K_DUE, t)
  elseif redis.call('SET', K_CLAIM .. t, ARGV[4], 'NX', 'PX', vis) then
    redis.call('ZADD', K_DUE, string.format('%d', now + vis), t)
    out[#out + 1] = t
    out[#out + 1] = head
    out[#out + 1] = redis.call('HGET', K_ATTEMPTS, t) or ''
  end
end
return out
",
        queue = keys::QUEUE,
        due = keys::DUE,
        claim = keys::CLAIM,
        attempts = keys::ATTEMPTS,
    ))
});

/// Ends a claim. ARGV: now, target, token, item, `done` or `retry`, due ms (retry),
/// attempts record (retry). `done` pops the item if it is still the head. Returns 0 if the
/// claim was no longer the caller's (it timed out), else 1.
static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local K_QUEUE, K_DUE, K_CLAIM, K_ATTEMPTS = '{queue}', '{due}', '{claim}', '{attempts}'
local t = ARGV[2]
if redis.call('GET', K_CLAIM .. t) ~= ARGV[3] then return 0 end
redis.call('DEL', K_CLAIM .. t)
local q = K_QUEUE .. t
if ARGV[5] == 'retry' then
  redis.call('HSET', K_ATTEMPTS, t, ARGV[7])
  redis.call('ZADD', K_DUE, ARGV[6], t)
  return 1
end
if redis.call('LINDEX', q, 0) == ARGV[4] then redis.call('LPOP', q) end
redis.call('HDEL', K_ATTEMPTS, t)
if redis.call('LLEN', q) > 0 then
  redis.call('ZADD', K_DUE, ARGV[1], t)
else
  redis.call('ZREM', K_DUE, t)
end
return 1
",
        queue = keys::QUEUE,
        due = keys::DUE,
        claim = keys::CLAIM,
        attempts = keys::ATTEMPTS,
    ))
});

/// Events queued over all targets, and the time the oldest head was queued (-1: none).
static STATS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local K_QUEUE, K_DUE = '{queue}', '{due}'
local total, oldest = 0, -1
for _, t in ipairs(redis.call('ZRANGE', K_DUE, 0, {last})) do
  total = total + redis.call('LLEN', K_QUEUE .. t)
  local head = redis.call('LINDEX', K_QUEUE .. t, 0)
  if head then
    local at = tonumber(cjson.decode(head).enqueued_ms)
    if oldest < 0 or at < oldest then oldest = at end
  end
end
return {{total, oldest}}
",
        queue = keys::QUEUE,
        due = keys::DUE,
        last = STATS_TARGETS - 1,
    ))
});

/// What queueing did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queued {
    /// The types of the events queued (none when their ids had been queued already).
    pub kinds: Vec<String>,
    /// Older events dropped because a target's queue was full.
    pub dropped: u64,
}

impl Queued {
    /// Adds another step's result.
    pub fn add(&mut self, other: Queued) {
        self.kinds.extend(other.kinds);
        self.dropped += other.dropped;
    }
}

/// One event as queued for a target.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    /// The event id.
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was queued, Unix milliseconds.
    pub enqueued_ms: u64,
    /// The payload to POST.
    pub body: String,
}

/// A target's head event, claimed by this replica.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The target.
    pub target: String,
    /// The item as stored (compared when finishing).
    pub raw: String,
    /// The item.
    pub item: Item,
    /// Failed attempts of this item so far.
    pub failures: u32,
    /// This claim's token.
    pub token: String,
}

/// How a claim ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Delivered or given up: the item leaves the queue.
    Done,
    /// Try again at this time (Unix ms), after `failures` failures in all.
    Retry {
        /// When, Unix milliseconds.
        at_ms: u64,
        /// Failures so far, this one included.
        failures: u32,
    },
}

/// The outbox over the control plane's Redis.
#[derive(Clone)]
pub struct Outbox {
    repo: Repo,
    /// Ids of the targets set by configuration (the admin API's are read inside scripts).
    config_targets: Arc<[String]>,
    max_queue: u32,
}

impl Outbox {
    /// The outbox; events go to `config_targets` and to the targets stored in Redis.
    pub fn new(repo: Repo, config_targets: Vec<String>, max_queue: u32) -> Self {
        Self {
            repo,
            config_targets: config_targets.into(),
            max_queue,
        }
    }

    /// The repository underneath.
    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    /// An invocation of a [`PRELUDE`] script with the common arguments in place.
    pub fn invocation<'s>(&self, script: &'s Script, now_ms: u64) -> ScriptInvocation<'s> {
        let mut invocation = script.prepare_invoke();
        invocation
            .arg(now_ms)
            .arg(millis(DEDUPE_FOR))
            .arg(self.max_queue)
            .arg(self.config_targets.len());
        for id in self.config_targets.iter() {
            invocation.arg(id.as_str());
        }
        invocation
    }

    /// Runs a [`PRELUDE`] script, whose answer is `answer(extra)`: returns what it queued
    /// and its own count.
    pub async fn run(
        &self,
        op: &'static str,
        invocation: ScriptInvocation<'_>,
    ) -> Result<(Queued, u64), RepoError> {
        let mut con = self.repo.con();
        let answer: Vec<String> = self
            .repo
            .deadline(op, invocation.invoke_async(&mut con))
            .await?;
        let number = |index: usize| {
            answer
                .get(index)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let queued = Queued {
            dropped: number(0),
            kinds: answer.iter().skip(2).cloned().collect(),
        };
        Ok((queued, number(1)))
    }

    /// Queues an event once (by id) for every target.
    pub async fn push(
        &self,
        id: &str,
        body: &str,
        kind: &str,
        now_ms: u64,
    ) -> Result<Queued, RepoError> {
        let mut invocation = self.invocation(&PUSH, now_ms);
        invocation.arg(id).arg(body).arg(kind);
        Ok(self.run("queue webhook", invocation).await?.0)
    }

    /// Claims up to `max` due targets for `visibility`.
    pub async fn claim(
        &self,
        now_ms: u64,
        visibility: Duration,
        max: usize,
        token: &str,
    ) -> Result<Vec<Claimed>, RepoError> {
        let mut con = self.repo.con();
        let answer: Vec<String> = self
            .repo
            .deadline(
                "claim webhooks",
                CLAIM
                    .arg(now_ms)
                    .arg(millis(visibility))
                    .arg(max)
                    .arg(token)
                    .invoke_async(&mut con),
            )
            .await?;
        let mut claims = Vec::new();
        for triple in answer.chunks_exact(3) {
            let [target, raw, attempts] = triple else {
                continue;
            };
            let item: Item = decode(raw, &keys::queue(target))?;
            claims.push(Claimed {
                failures: failures_of(attempts, &item.id),
                target: target.clone(),
                raw: raw.clone(),
                item,
                token: token.to_owned(),
            });
        }
        Ok(claims)
    }

    /// Ends a claim; `false` if it had timed out (another replica may hold the target now).
    pub async fn finish(
        &self,
        claimed: &Claimed,
        finish: Finish,
        now_ms: u64,
    ) -> Result<bool, RepoError> {
        let mut invocation = FINISH.prepare_invoke();
        invocation
            .arg(now_ms)
            .arg(&claimed.target)
            .arg(&claimed.token)
            .arg(&claimed.raw);
        match finish {
            Finish::Done => invocation.arg("done"),
            Finish::Retry { at_ms, failures } => invocation
                .arg("retry")
                .arg(at_ms)
                .arg(format!("{failures} {}", claimed.item.id)),
        };
        let mut con = self.repo.con();
        let answer: i64 = self
            .repo
            .deadline("finish webhook", invocation.invoke_async(&mut con))
            .await?;
        Ok(answer == 1)
    }

    /// Events queued over all targets, and when the oldest head was queued (Unix ms).
    pub async fn stats(&self) -> Result<(u64, Option<u64>), RepoError> {
        let mut con = self.repo.con();
        let answer: Vec<i64> = self
            .repo
            .deadline("webhook stats", STATS.invoke_async(&mut con))
            .await?;
        let total = answer.first().copied().unwrap_or(0).max(0).unsigned_abs();
        let oldest = answer
            .get(1)
            .copied()
            .filter(|at| *at >= 0)
            .map(i64::unsigned_abs);
        Ok((total, oldest))
    }
}

/// Failures recorded for `event_id` (`"<failures> <event id>"`); a record of another event
/// (the head was dropped meanwhile) counts as none.
fn failures_of(record: &str, event_id: &str) -> u32 {
    match record.split_once(' ') {
        Some((failures, id)) if id == event_id => failures.parse().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_records_belong_to_one_event() {
        assert_eq!(failures_of("3 stream.active:s:1", "stream.active:s:1"), 3);
        assert_eq!(failures_of("3 stream.active:s:1", "stream.active:s:2"), 0);
        assert_eq!(failures_of("", "x"), 0);
        assert_eq!(failures_of("x y", "y"), 0);
    }
}
