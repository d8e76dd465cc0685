//! The Lua scripts behind [`crate::RedisIndex`] and the segment record encoding they share.
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

use redis::Script;

use crate::index::SegmentRecord;

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
/// Reply: `{'ok', last_msn or ''}` | `{'stale', current}`.
const OPEN_SESSION: &str = lua!(
    r#"
local current = redis.call('HGET', KEYS[1], 'epoch')
if current and lt(ARGV[1], current) then
  return {'stale', current}
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'ended', '0')
redis.call('HSETNX', KEYS[1], 'discontinuity_base', '0')
local last = redis.call('HGET', KEYS[1], 'last_msn')
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {'ok', last or ''}
"#
);

/// KEYS: meta, segs. ARGV: epoch, msn, encoded record, retain (>= 1), channel, stream id.
/// Reply: `{'ok', '', trimmed records}` | `{'stale', current, {}}` | `{'rewind', last, {}}`.
///
/// Only the epoch that opened the current session may append: an older one is fenced out,
/// a newer one never opened a session (skipping the fence). A trimmed record whose encoding
/// ends in `|1` is a discontinuity and is counted into `discontinuity_base`.
const APPEND: &str = lua!(
    r#"
local current = redis.call('HGET', KEYS[1], 'epoch') or '0'
if current ~= ARGV[1] then
  return {'stale', current, {}}
end
local last = redis.call('HGET', KEYS[1], 'last_msn')
if last and not lt(last, ARGV[2]) then
  return {'rewind', last, {}}
end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'epoch', current, 'last_msn', ARGV[2])
redis.call('HSETNX', KEYS[1], 'ended', '0')
redis.call('HSETNX', KEYS[1], 'discontinuity_base', '0')
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
/// Reply: `{'ok', ''}` (also for a stream that never had a session) | `{'stale', current}`.
const CLOSE_SESSION: &str = lua!(
    r#"
local current = redis.call('HGET', KEYS[1], 'epoch')
if not current then
  return {'ok', ''}
end
if lt(ARGV[1], current) then
  return {'stale', current}
end
redis.call('HSET', KEYS[1], 'ended', '1')
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {'ok', ''}
"#
);

/// KEYS: meta, segs. Reply: nil for an unknown stream, else
/// `{epoch, ended, discontinuity_base, records}`, read in one step so they agree.
const LOAD: &str = lua!(
    r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'ended', 'discontinuity_base')
return {meta[1] or '0', meta[2] or '0', meta[3] or '0', redis.call('LRANGE', KEYS[2], 0, -1)}
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

/// Version tag of the record encoding; a new layout gets a new tag so old entries stay
/// readable during a rolling upgrade.
const RECORD_V1: &str = "v1";

/// Encodes a record as `v1|msn|epoch|duration_ms|program_date_time_ms|discontinuity(0/1)`.
/// The discontinuity flag must stay the last field: [`APPEND`] reads it.
pub(crate) fn encode_record(record: &SegmentRecord) -> String {
    format!(
        "{RECORD_V1}|{}|{}|{}|{}|{}",
        record.msn,
        record.epoch,
        record.duration_ms,
        record.program_date_time_ms,
        u8::from(record.discontinuity)
    )
}

/// Decodes [`encode_record`]'s output.
pub(crate) fn decode_record(encoded: &str) -> Result<SegmentRecord, String> {
    let bad = || format!("malformed segment record {encoded:?}");
    let fields: Vec<&str> = encoded.split('|').collect();
    let [version, msn, epoch, duration_ms, pdt_ms, discontinuity] = fields.as_slice() else {
        return Err(bad());
    };
    if *version != RECORD_V1 {
        return Err(format!("unknown segment record version {version:?}"));
    }
    let msn = msn.parse().map_err(|_| bad())?;
    Ok(SegmentRecord {
        msn,
        epoch: epoch.parse().map_err(|_| bad())?,
        seq: msn,
        bytes: 0,
        duration_ms: duration_ms.parse().map_err(|_| bad())?,
        program_date_time_ms: pdt_ms.parse().map_err(|_| bad())?,
        discontinuity: match *discontinuity {
            "0" => false,
            "1" => true,
            _ => return Err(bad()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_end_in_the_discontinuity_flag() {
        let record = SegmentRecord {
            msn: u64::MAX,
            epoch: 7,
            seq: u64::MAX,
            bytes: 0,
            duration_ms: 2002,
            program_date_time_ms: -5,
            discontinuity: true,
        };
        let encoded = encode_record(&record);
        assert_eq!(encoded, format!("v1|{}|7|2002|-5|1", u64::MAX));
        assert!(
            encoded.ends_with("|1"),
            "APPEND counts trimmed discontinuities by this"
        );
        assert_eq!(decode_record(&encoded), Ok(record));
    }

    #[test]
    fn malformed_records_are_errors() {
        for bad in [
            "",
            "v1|1|2|3|4",
            "v2|1|2|3|4|0",
            "v1|x|2|3|4|0",
            "v1|1|2|3|4|2",
        ] {
            assert!(decode_record(bad).is_err(), "{bad:?}");
        }
    }
}
