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

/// Unix milliseconds as an ISO 8601 UTC time with milliseconds (`2026-11-05T12:00:00.000Z`);
/// times before 1970 are written as 1970.
pub(crate) fn date_time(unix_ms: i64) -> String {
    let millis = u64::try_from(unix_ms).unwrap_or(0);
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
    }
}
