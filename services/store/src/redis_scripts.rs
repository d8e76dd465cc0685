//! The Lua scripts behind [`crate::RedisIndex`]: the rules of [`crate::stream_state`], run
//! inside Redis. Records are encoded by [`crate::encoding`].
//!
//! Every mutation is one script, so the epoch check and the write are one atomic step inside
//! Redis: a zombie writer cannot slip a write between a check and a set (rule 3). Each script
//! touches only keys of one stream (same hash tag, same cluster slot) and PUBLISHes the
//! stream id on the change channel when it wrote something. The keys of a generation's
//! recording (`<prefix>rec:<generation>`, `<prefix>recmeta:<generation>`, `<prefix>recs`,
//! prefix `fc:idx:{<stream>}:`, [`crate::keys`]) are named inside the scripts, because the
//! generation is read there: they share the stream's hash tag, so they stay in its slot.
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
            // The records a generation's recording does not hold (`recmeta`: its hash).
            "local function not_held(records, recmeta)\n",
            "  local range = redis.call('HMGET', recmeta, 'first_msn', 'last_msn')\n",
            "  if not range[1] or not range[2] or range[2] == '' then return records end\n",
            "  local kept = {}\n",
            "  for _, record in ipairs(records) do\n",
            "    local msn = string.match(record, '^v%d|(%d+)|')\n",
            "    if not msn or lt(msn, range[1]) or lt(range[2], msn) then\n",
            "      table.insert(kept, record)\n",
            "    end\n",
            "  end\n",
            "  return kept\n",
            "end\n",
            $body
        )
    };
}

/// KEYS: meta, segs. ARGV: epoch, channel, stream id, key prefix.
/// Reply: `{'ok', last_msn or '', discontinuity ('0'/'1'), retired records}` |
/// `{'stale', current, '', {}}`.
///
/// On an ended playlist only a newer epoch may open, and it starts a new generation: the
/// listing moves into the reply (its discontinuities into `discontinuity_base`), except the
/// records the ended generation's recording holds.
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
  local old = redis.call('HGET', KEYS[1], 'generation')
  if old then
    retired = not_held(retired, ARGV[4] .. 'recmeta:' .. old)
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

/// KEYS: meta, segs. ARGV: epoch, msn, encoded record, retain (>= 1), channel, stream id,
/// key prefix, records ('1'/'0'), retention ms, max duration ms, msn − 1 ('' for msn 0),
/// duration ms, bytes, program date time ms, media end ms, discontinuity ('1'/'0'),
/// max recording segments.
/// Reply: `{'ok', '', trimmed records}` | `{'stale', current, {}}` | `{'rewind', last, {}}`.
///
/// Only the epoch that opened the current session may append (an older one is fenced out, a
/// newer one never opened a session), and not after it ended. Re-appending the newest listed
/// record (same msn, same epoch) answers `ok` with nothing trimmed and writes nothing. A
/// trimmed record whose encoding ends in `|1` is a discontinuity and is counted into
/// `discontinuity_base`. The record goes into the generation's recording by the rules of
/// `crate::recording::rules` (started when recording and there is none; stopped for good
/// when the record does not follow, does not fit, or the session does not record), and the
/// trimmed records it holds are not returned.
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
local generation = redis.call('HGET', KEYS[1], 'generation') or '0'
local recmeta = ARGV[7] .. 'recmeta:' .. generation
local recorded = redis.call('EXISTS', recmeta) == 1
if ARGV[8] == '1' and not recorded then
  redis.call('HSET', recmeta, 'first_msn', ARGV[2], 'last_msn', '', 'started_at_ms', ARGV[14],
    'media_end_ms', ARGV[14], 'segments', '0', 'duration_ms', '0', 'bytes', '0',
    'discontinuities', '0', 'retention_ms', ARGV[9], 'skipped', '0', 'stopped', '0',
    'deleting', '0')
  redis.call('SADD', ARGV[7] .. 'recs', generation)
  recorded = true
end
if recorded then
  local log = redis.call('HMGET', recmeta, 'first_msn', 'last_msn', 'duration_ms', 'segments',
    'stopped')
  local follows = (log[2] == '' and log[1] == ARGV[2]) or (log[2] ~= '' and log[2] == ARGV[11])
  local fits = tonumber(log[3]) + tonumber(ARGV[12]) <= tonumber(ARGV[10])
    and tonumber(log[4]) < tonumber(ARGV[17])
  if ARGV[8] == '1' and log[5] == '0' and follows and fits then
    redis.call('RPUSH', ARGV[7] .. 'rec:' .. generation, ARGV[3])
    redis.call('HSET', recmeta, 'last_msn', ARGV[2], 'media_end_ms', ARGV[15],
      'retention_ms', ARGV[9])
    redis.call('HINCRBY', recmeta, 'segments', 1)
    redis.call('HINCRBY', recmeta, 'duration_ms', ARGV[12])
    redis.call('HINCRBY', recmeta, 'bytes', ARGV[13])
    if ARGV[16] == '1' then
      redis.call('HINCRBY', recmeta, 'discontinuities', 1)
    end
  else
    redis.call('HSET', recmeta, 'stopped', '1')
    redis.call('HINCRBY', recmeta, 'skipped', 1)
  end
end
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
  trimmed = not_held(trimmed, recmeta)
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {'ok', '', trimmed}
"#
);

/// KEYS: meta. ARGV: epoch, channel, stream id, key prefix, now (Unix ms).
/// Reply: `{'ok', ''}` (also for a stream that never had a session) | `{'stale', current}`
/// for any epoch but the current one. The generation's recording, if any, is stamped ended.
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
local generation = redis.call('HGET', KEYS[1], 'generation')
if generation and redis.call('EXISTS', ARGV[4] .. 'recmeta:' .. generation) == 1 then
  redis.call('HSETNX', ARGV[4] .. 'recmeta:' .. generation, 'ended_at_ms', ARGV[5])
end
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

/// KEYS: recs. ARGV: key prefix. Reply: `{{generation, {field, value, …}}, …}`.
const RECORDINGS: &str = lua!(
    r#"
local out = {}
for _, generation in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fields = redis.call('HGETALL', ARGV[1] .. 'recmeta:' .. generation)
  if #fields > 0 then
    table.insert(out, {generation, fields})
  end
end
return out
"#
);

/// ARGV: key prefix, generation. Reply: nil | `{{field, value, …}, records}`.
const RECORDING: &str = lua!(
    r#"
local fields = redis.call('HGETALL', ARGV[1] .. 'recmeta:' .. ARGV[2])
if #fields == 0 then
  return false
end
return {fields, redis.call('LRANGE', ARGV[1] .. 'rec:' .. ARGV[2], 0, -1)}
"#
);

/// ARGV: key prefix, generation, msn. Reply: nil | `{{field, value, …}, record}` for a
/// recording not being deleted that holds the msn (the log is msn-contiguous: one LINDEX).
const RECORDING_SEGMENT: &str = lua!(
    r#"
local recmeta = ARGV[1] .. 'recmeta:' .. ARGV[2]
local range = redis.call('HMGET', recmeta, 'first_msn', 'last_msn', 'deleting')
if not range[1] or not range[2] or range[2] == '' or range[3] == '1' then
  return false
end
if lt(ARGV[3], range[1]) or lt(range[2], ARGV[3]) then
  return false
end
local record = redis.call('LINDEX', ARGV[1] .. 'rec:' .. ARGV[2],
  tonumber(ARGV[3]) - tonumber(range[1]))
if not record or string.match(record, '^v%d|(%d+)|') ~= ARGV[3] then
  return false
end
return {redis.call('HGETALL', recmeta), record}
"#
);

/// KEYS: meta, segs. ARGV: key prefix, generation, channel, stream id.
/// Reply: `{'unknown'}` | `{'busy'}` | `{'ok', {field, value, …}, records, cleared records}`.
///
/// Marks an ended recording deleted; if its generation is the stream's (ended) playlist, that
/// listing is cleared too (its discontinuities counted into `discontinuity_base`), so no
/// playlist names an object about to be deleted. Idempotent.
const RETIRE_RECORDING: &str = lua!(
    r#"
local recmeta = ARGV[1] .. 'recmeta:' .. ARGV[2]
if redis.call('EXISTS', recmeta) == 0 then
  return {'unknown'}
end
if not redis.call('HGET', recmeta, 'ended_at_ms') then
  return {'busy'}
end
redis.call('HSET', recmeta, 'deleting', '1')
local cleared = {}
if redis.call('HGET', KEYS[1], 'generation') == ARGV[2] then
  cleared = redis.call('LRANGE', KEYS[2], 0, -1)
  redis.call('DEL', KEYS[2])
  local discontinuities = 0
  for _, record in ipairs(cleared) do
    if string.sub(record, -2) == '|1' then
      discontinuities = discontinuities + 1
    end
  end
  if discontinuities > 0 then
    redis.call('HINCRBY', KEYS[1], 'discontinuity_base', discontinuities)
  end
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {'ok', redis.call('HGETALL', recmeta), redis.call('LRANGE', ARGV[1] .. 'rec:' .. ARGV[2], 0, -1),
  cleared}
"#
);

/// KEYS: recs. ARGV: key prefix, generation. Reply: 1 when this call removed a retired
/// recording, else 0.
const FORGET_RECORDING: &str = lua!(
    r#"
local recmeta = ARGV[1] .. 'recmeta:' .. ARGV[2]
if redis.call('HGET', recmeta, 'deleting') ~= '1' then
  return 0
end
redis.call('DEL', recmeta, ARGV[1] .. 'rec:' .. ARGV[2])
redis.call('SREM', KEYS[1], ARGV[2])
return 1
"#
);

/// The scripts, hashed once; `invoke_async` sends EVALSHA and loads a script on NOSCRIPT.
pub(crate) struct Scripts {
    pub(crate) open_session: Script,
    pub(crate) append: Script,
    pub(crate) close_session: Script,
    pub(crate) load: Script,
    pub(crate) recordings: Script,
    pub(crate) recording: Script,
    pub(crate) recording_segment: Script,
    pub(crate) retire_recording: Script,
    pub(crate) forget_recording: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            open_session: Script::new(OPEN_SESSION),
            append: Script::new(APPEND),
            close_session: Script::new(CLOSE_SESSION),
            load: Script::new(LOAD),
            recordings: Script::new(RECORDINGS),
            recording: Script::new(RECORDING),
            recording_segment: Script::new(RECORDING_SEGMENT),
            retire_recording: Script::new(RETIRE_RECORDING),
            forget_recording: Script::new(FORGET_RECORDING),
        }
    }
}
