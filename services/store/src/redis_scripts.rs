//! The Lua scripts behind [`crate::RedisIndex`]: the rules of [`crate::stream_state`], run
//! inside Redis. Records are encoded by [`crate::encoding`].
//!
//! Every mutation is one script, so the epoch check and the write are one atomic step inside
//! Redis: a zombie writer cannot slip a write between a check and a set (rule 3). Each script
//! touches only the two keys of one stream (same hash tag, same cluster slot) and PUBLISHes
//! the stream id on the change channel when it wrote something.
//!
//! Epochs and sequence numbers travel as canonical decimal strings and are compared as such
//! (`lt` below), never as Lua numbers: those are doubles and lose precision above 2^53.
//!
//! Replies are arrays whose first element is a status: `ok`, `stale` (second element: the
//! current epoch) or `rewind` (second element: the newest msn).
//!
//! Meta fields (besides those in [`crate::keys`]): `generation` (the epoch that started the
//! current playlist) and `last_epoch` (the epoch of the newest listed record, for idempotent
//! re-appends).

use redis::Script;

/// Prepends the helpers every script uses.
macro_rules! lua {
    ($body:literal) => {
        concat!(
            // Byte-wise, not `a < b`: Lua's string order follows the server's locale.
            "local function lt(a, b)\n",
            "  if #a ~= #b then return #a < #b end\n",
            "  for i = 1, #a do\n",
            "    local x, y = string.byte(a, i), string.byte(b, i)\n",
            "    if x ~= y then return x < y end\n",
            "  end\n",
            "  return false\n",
            "end\n",
            $body
        )
    };
}

/// KEYS: meta, segs. ARGV: epoch, channel, stream id.
/// Reply: `{'ok', last_msn or '', discontinuity ('0'/'1'), retired records}` |
/// `{'stale', current, '', {}}`.
///
/// On an ended playlist only a newer epoch may open, and it starts a new generation: the
/// listing moves into the reply (its discontinuities into `discontinuity_base`).
const OPEN_SESSION: &str = lua!(
    r#"
local current = redis.call('HGET', KEYS[1], 'epoch')
local ended = redis.call('HGET', KEYS[1], 'ended') == '1'
if current and (lt(ARGV[1], current) or (ended and ARGV[1] == current)) then
  return {'stale', current, '', {}}
end
local retired = {}
if ended then
  retired = redis.call('LRANGE', KEYS[2], 0, -1)
  redis.call('DEL', KEYS[2])
  local discontinuities = 0
  for _, record in ipairs(retired) do
    if string.sub(record, -2) == '|1' then
      discontinuities = discontinuities + 1
    end
  end
  if discontinuities > 0 then
    redis.call('HINCRBY', KEYS[1], 'discontinuity_base', discontinuities)
  end
  redis.call('HSET', KEYS[1], 'generation', ARGV[1])
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'ended', '0')
redis.call('HSETNX', KEYS[1], 'generation', ARGV[1])
redis.call('HSETNX', KEYS[1], 'discontinuity_base', '0')
local last = redis.call('HGET', KEYS[1], 'last_msn')
local discontinuity = '0'
if redis.call('LLEN', KEYS[2]) > 0 then
  discontinuity = '1'
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {'ok', last or '', discontinuity, retired}
"#
);

/// KEYS: meta, segs. ARGV: epoch, msn, encoded record, retain (>= 1), channel, stream id.
/// Reply: `{'ok', '', trimmed records}` | `{'stale', current, {}}` | `{'rewind', last, {}}`.
///
/// Only the epoch that opened the current session may append (an older one is fenced out, a
/// newer one never opened a session), and not after it ended. Re-appending the newest listed
/// record (same msn, same epoch) answers `ok` with nothing trimmed and writes nothing. A
/// trimmed record whose encoding ends in `|1` is a discontinuity and is counted into
/// `discontinuity_base`.
const APPEND: &str = lua!(
    r#"
local current = redis.call('HGET', KEYS[1], 'epoch')
if current ~= ARGV[1] then
  return {'stale', current or '0', {}}
end
local last = redis.call('HGET', KEYS[1], 'last_msn')
if last == ARGV[2] and redis.call('HGET', KEYS[1], 'last_epoch') == ARGV[1]
    and redis.call('LLEN', KEYS[2]) > 0 then
  return {'ok', '', {}}
end
if redis.call('HGET', KEYS[1], 'ended') == '1' then
  return {'stale', current, {}}
end
if last and not lt(last, ARGV[2]) then
  return {'rewind', last, {}}
end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'last_msn', ARGV[2], 'last_epoch', ARGV[1])
local excess = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[4])
local trimmed = {}
if excess > 0 then
  trimmed = redis.call('LRANGE', KEYS[2], 0, excess - 1)
  redis.call('LTRIM', KEYS[2], excess, -1)
  local discontinuities = 0
  for _, record in ipairs(trimmed) do
    if string.sub(record, -2) == '|1' then
      discontinuities = discontinuities + 1
    end
  end
  if discontinuities > 0 then
    redis.call('HINCRBY', KEYS[1], 'discontinuity_base', discontinuities)
  end
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {'ok', '', trimmed}
"#
);

/// KEYS: meta. ARGV: epoch, channel, stream id.
/// Reply: `{'ok', ''}` (also for a stream that never had a session) | `{'stale', current}`
/// for any epoch but the current one.
const CLOSE_SESSION: &str = lua!(
    r#"
local current = redis.call('HGET', KEYS[1], 'epoch')
if not current then
  return {'ok', ''}
end
if ARGV[1] ~= current then
  return {'stale', current}
end
redis.call('HSET', KEYS[1], 'ended', '1')
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {'ok', ''}
"#
);

/// KEYS: meta, segs. Reply: nil for an unknown stream, else
/// `{epoch, ended, discontinuity_base, generation, records}`, read in one step so they agree.
/// A stream written before generations existed reports generation `0`.
const LOAD: &str = lua!(
    r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'ended', 'discontinuity_base', 'generation')
return {meta[1] or '0', meta[2] or '0', meta[3] or '0', meta[4] or '0',
  redis.call('LRANGE', KEYS[2], 0, -1)}
"#
);

/// The scripts, hashed once; `invoke_async` sends EVALSHA and loads a script on NOSCRIPT.
pub(crate) struct Scripts {
    pub(crate) open_session: Script,
    pub(crate) append: Script,
    pub(crate) close_session: Script,
    pub(crate) load: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            open_session: Script::new(OPEN_SESSION),
            append: Script::new(APPEND),
            close_session: Script::new(CLOSE_SESSION),
            load: Script::new(LOAD),
        }
    }
}
