//! Number and time spellings shared by the renderers: one spelling per value, so every edge
//! writes the same bytes.

use std::time::{Duration, SystemTime};

/// `ticks` of `timescale` in milliseconds, rounded to the nearest.
pub(crate) fn round_ms(ticks: u64, timescale: u32) -> u64 {
    let timescale = u128::from(timescale.max(1));
    let millis = (u128::from(ticks) * 1_000 + timescale / 2) / timescale;
    u64::try_from(millis).unwrap_or(u64::MAX)
}

/// Milliseconds as seconds with three decimals (`2.002`).
pub(crate) fn seconds(millis: u64) -> String {
    format!("{}.{:03}", millis / 1_000, millis % 1_000)
}

/// The last millisecond RFC 3339 can spell with a four-digit year: 9999-12-31T23:59:59.999Z.
const LAST_SPELLABLE_MS: i64 = 253_402_300_799_999;

/// Unix milliseconds as an ISO 8601 UTC time with milliseconds (`2026-11-05T12:00:00.000Z`).
/// Times before 1970 are written as 1970 and times after 9999 as the end of 9999: the value
/// comes from another node (an origin's wall clock over the relay), and humantime refuses to
/// spell a five-digit year, which `to_string` would turn into a panic.
pub(crate) fn date_time(unix_ms: i64) -> String {
    let millis = unix_ms.clamp(0, LAST_SPELLABLE_MS).unsigned_abs();
    let time = SystemTime::UNIX_EPOCH + Duration::from_millis(millis);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(round_ms(30_060, 90_000), 334);
        assert_eq!(round_ms(14_729, 44_100), 334);
        assert_eq!(seconds(2_002), "2.002");
        assert_eq!(seconds(40), "0.040");
        assert_eq!(date_time(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(date_time(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(date_time(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(date_time(LAST_SPELLABLE_MS + 1), "9999-12-31T23:59:59.999Z");
    }
}
