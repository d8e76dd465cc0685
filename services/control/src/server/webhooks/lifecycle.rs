//! A stream's lifecycle as control sees it, turned into events: `stream.active` at a grant,
//! `stream.disconnected` when the origin ends the publish or the lease lapses (an origin
//! killed never says so), `stream.idle` when the reconnect window then closes with no new
//! grant.
//!
//! Several replicas run this at once. Each step is one Lua script (over [`PRELUDE`]) that
//! checks and changes the lifecycle state and queues the events in the same step, under
//! deterministic ids, so a fact noticed by several replicas is queued once and nothing
//! noticed is lost between noticing and queueing. Reconnect-window deadlines are a sorted set
//! in Redis; the script that fires them removes each, so one replica fires it.

use std::sync::LazyLock;
use std::time::Duration;

use ferrocast_base::StreamId;
use redis::Script;

use super::super::config::millis;
use super::super::keys as control_keys;
use super::super::repo::RepoError;
use super::keys;
use super::outbox::{Outbox, PRELUDE, Queued};

/// Streams checked per sweep script call.
const SWEEP_BATCH: usize = 200;
/// Deadlines fired per idle script call.
const IDLE_BATCH: usize = 200;
/// Bounds one sweep's work, in batches.
const MAX_SWEEP_BATCHES: usize = 1000;

/// The lifecycle state and its transitions, after the prelude.
static LIFECYCLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r"{prelude}
local K_LIVE, K_NEWEST, K_IDLE, K_IDLE_DATA = '{live}', '{newest}', '{idle}', '{idle_data}'
local function epoch_of(json) return tonumber(cjson.decode(json).epoch) end
local function newest_of(sid) return tonumber(redis.call('HGET', K_NEWEST, sid) or '0') end
-- The publish of `epoch` ended. If it is the live session, it leaves `live` and waits for its
-- reconnect window (the only place that schedules one, so once per session).
local function disconnect(sid, epoch, data, window)
  local live = redis.call('HGET', K_LIVE, sid)
  if live and epoch_of(live) == epoch then
    data = live
    redis.call('HDEL', K_LIVE, sid)
    redis.call('ZADD', K_IDLE, fmt(NOW + window), sid)
    redis.call('HSET', K_IDLE_DATA, sid, live)
  end
  emit('stream.disconnected:' .. sid .. ':' .. fmt(epoch), 'stream.disconnected', data)
end
",
        prelude = *PRELUDE,
        live = keys::LIVE,
        newest = keys::NEWEST,
        idle = keys::IDLE,
        idle_data = keys::IDLE_DATA,
    )
});

/// A grant. ARGV: stream id, epoch, session JSON. A late answer for an older epoch does
/// nothing; a live older session is reported disconnected first (an origin that vanished and
/// was taken over, or whose lease lapsed before the sweep saw it); a pending window closes.
static GRANT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{LIFECYCLE_SRC}
local sid, epoch, data = ARGV[A], tonumber(ARGV[A + 1]), ARGV[A + 2]
if newest_of(sid) > epoch then return answer() end
redis.call('HSET', K_NEWEST, sid, fmt(epoch))
local live = redis.call('HGET', K_LIVE, sid)
if live and epoch_of(live) < epoch then
  emit('stream.disconnected:' .. sid .. ':' .. fmt(epoch_of(live)), 'stream.disconnected', live)
end
redis.call('ZREM', K_IDLE, sid)
redis.call('HDEL', K_IDLE_DATA, sid)
redis.call('HSET', K_LIVE, sid, data)
emit('stream.active:' .. sid .. ':' .. fmt(epoch), 'stream.active', data)
return answer()
",
        LIFECYCLE_SRC = *LIFECYCLE
    ))
});

/// An origin ended a publish. ARGV: stream id, epoch, session JSON (used if the session is
/// no longer live), window ms.
static END: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{LIFECYCLE_SRC}
disconnect(ARGV[A], tonumber(ARGV[A + 1]), ARGV[A + 2], tonumber(ARGV[A + 3]))
return answer()
",
        LIFECYCLE_SRC = *LIFECYCLE
    ))
});

/// Checks live sessions against their leases. ARGV: window ms, lease key prefix, stream
/// ids. A session whose lease is gone or carries another epoch has ended.
static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{LIFECYCLE_SRC}
local window, lease_prefix, ended = tonumber(ARGV[A]), ARGV[A + 1], 0
for i = A + 2, #ARGV do
  local sid = ARGV[i]
  local live = redis.call('HGET', K_LIVE, sid)
  if live then
    local epoch = epoch_of(live)
    local lease = redis.call('GET', lease_prefix .. sid)
    if not lease or tonumber(cjson.decode(lease).epoch) ~= epoch then
      disconnect(sid, epoch, live, window)
      ended = ended + 1
    end
  end
end
return answer(ended)
",
        LIFECYCLE_SRC = *LIFECYCLE
    ))
});

/// Fires due reconnect-window deadlines. ARGV: most to fire, lease key prefix. Each is
/// removed in the same step (one replica fires it); a stream live again (a lease exists)
/// gets no idle.
static IDLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{LIFECYCLE_SRC}
local due = redis.call('ZRANGEBYSCORE', K_IDLE, '-inf', fmt(NOW), 'LIMIT', 0, tonumber(ARGV[A]))
for _, sid in ipairs(due) do
  redis.call('ZREM', K_IDLE, sid)
  local data = redis.call('HGET', K_IDLE_DATA, sid)
  redis.call('HDEL', K_IDLE_DATA, sid)
  if data and redis.call('EXISTS', ARGV[A + 1] .. sid) == 0 then
    emit('stream.idle:' .. sid .. ':' .. fmt(epoch_of(data)), 'stream.idle', data)
  end
end
return answer(#due)
",
        LIFECYCLE_SRC = *LIFECYCLE
    ))
});

/// A lapsed lease came back (its origin's heartbeat restored it). ARGV: stream id, epoch,
/// session JSON. If the sweep had reported it disconnected, it is live again: its window
/// closes and `stream.active` is sent again, under an id of its own.
static RESTORED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{LIFECYCLE_SRC}
local sid, epoch, data = ARGV[A], tonumber(ARGV[A + 1]), ARGV[A + 2]
if newest_of(sid) > epoch or redis.call('HEXISTS', K_LIVE, sid) == 1 then
  return answer()
end
local waiting = redis.call('HGET', K_IDLE_DATA, sid)
if waiting and epoch_of(waiting) == epoch then data = waiting end
redis.call('ZREM', K_IDLE, sid)
redis.call('HDEL', K_IDLE_DATA, sid)
redis.call('HSET', K_LIVE, sid, data)
emit('stream.active:' .. sid .. ':' .. fmt(epoch) .. ':restored:' .. fmt(NOW), 'stream.active', data)
return answer()
",
        LIFECYCLE_SRC = *LIFECYCLE
    ))
});

/// The lifecycle's steps over the outbox.
#[derive(Clone)]
pub struct Lifecycle {
    outbox: Outbox,
    window: Duration,
}

/// What happened to a publish session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStep {
    /// The publish was granted.
    Granted,
    /// The origin ended the publish.
    Ended,
    /// A lapsed lease was restored by its origin's heartbeat.
    Restored,
}

impl SessionStep {
    /// The Redis operation's name, for errors.
    fn op(self) -> &'static str {
        match self {
            SessionStep::Granted => "webhook grant",
            SessionStep::Ended => "webhook end",
            SessionStep::Restored => "webhook restore",
        }
    }

    /// The step's name in logs.
    pub fn label(self) -> &'static str {
        match self {
            SessionStep::Granted => "grant",
            SessionStep::Ended => "end",
            SessionStep::Restored => "restore",
        }
    }
}

impl Lifecycle {
    /// Steps whose idle deadline is `window` after the disconnect.
    pub fn new(outbox: Outbox, window: Duration) -> Self {
        Self { outbox, window }
    }

    /// Runs the script of `step` for the publish session of `epoch` (`session_json`).
    pub async fn step(
        &self,
        step: SessionStep,
        session_json: &str,
        stream_id: &StreamId,
        epoch: u64,
        now_ms: u64,
    ) -> Result<Queued, RepoError> {
        let script: &Script = match step {
            SessionStep::Granted => &GRANT,
            SessionStep::Ended => &END,
            SessionStep::Restored => &RESTORED,
        };
        let mut invocation = self.session_step(script, session_json, stream_id, epoch, now_ms);
        if step == SessionStep::Ended {
            // The idle deadline is the reconnect window after the disconnect.
            invocation.arg(millis(self.window));
        }
        Ok(self.outbox.run(step.op(), invocation).await?.0)
    }

    /// The call of a per-session script: every one takes the stream, the epoch and the
    /// session's JSON first.
    fn session_step<'s>(
        &self,
        script: &'s Script,
        session_json: &str,
        stream_id: &StreamId,
        epoch: u64,
        now_ms: u64,
    ) -> redis::ScriptInvocation<'s> {
        let mut invocation = self.outbox.invocation(script, now_ms);
        invocation
            .arg(stream_id.as_str())
            .arg(epoch)
            .arg(session_json);
        invocation
    }

    /// Finds live sessions whose lease is gone; returns what was queued and how many ended.
    pub async fn sweep(&self, now_ms: u64) -> Result<(Queued, u64), RepoError> {
        let repo = self.outbox.repo();
        let lease_prefix = control_keys::lease(&StreamId::new(""));
        let mut total = Queued::default();
        let mut ended = 0;
        let mut cursor = 0_u64;
        for _ in 0..MAX_SWEEP_BATCHES {
            let mut con = repo.con();
            let (next, fields): (u64, Vec<String>) = repo
                .deadline(
                    "scan live streams",
                    redis::cmd("HSCAN")
                        .arg(keys::LIVE)
                        .arg(cursor)
                        .arg("COUNT")
                        .arg(SWEEP_BATCH)
                        .query_async(&mut con),
                )
                .await?;
            // HSCAN answers field, value, field, value…
            let stream_ids: Vec<&String> = fields.iter().step_by(2).collect();
            if !stream_ids.is_empty() {
                let mut invocation = self.outbox.invocation(&SWEEP, now_ms);
                invocation.arg(millis(self.window)).arg(&lease_prefix);
                for stream_id in stream_ids {
                    invocation.arg(stream_id.as_str());
                }
                let (queued, count) = self.outbox.run("webhook sweep", invocation).await?;
                total.add(queued);
                ended += count;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        Ok((total, ended))
    }

    /// Fires the reconnect-window deadlines that are due.
    pub async fn fire_idle(&self, now_ms: u64) -> Result<Queued, RepoError> {
        let lease_prefix = control_keys::lease(&StreamId::new(""));
        let mut total = Queued::default();
        for _ in 0..MAX_SWEEP_BATCHES {
            let mut invocation = self.outbox.invocation(&IDLE, now_ms);
            invocation.arg(IDLE_BATCH).arg(&lease_prefix);
            let (queued, fired) = self.outbox.run("webhook idle", invocation).await?;
            total.add(queued);
            if usize::try_from(fired).unwrap_or(0) < IDLE_BATCH {
                break;
            }
        }
        Ok(total)
    }
}
