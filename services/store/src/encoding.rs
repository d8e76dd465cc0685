//! Text encodings of index data: segment records (Redis list entries, disk index lines) and a
//! whole stream's state (one disk index value).
//!
//! Each layout starts with a version tag, so entries written by an older build stay readable
//! during a rolling upgrade (and in a `dev` data directory kept across upgrades). Numbers are
//! canonical decimals: the Redis scripts compare them as strings, never as Lua doubles.

use ferrocast_base::{Epoch, Msn};

use std::collections::BTreeMap;

use crate::index::{IndexState, SegmentRecord};
use crate::recording::RecordingSummary;
use crate::recording::rules::Log;
use crate::stream_state::StreamState;

/// Tag of the first record layout (no `seq`, no `bytes`): still decoded.
const RECORD_V1: &str = "v1";
/// Tag of the current record layout.
const RECORD_V2: &str = "v2";
/// Tag of the stream state layout.
const STREAM_V1: &str = "s1";
/// Tag of a recording's header line in a stream state.
const RECORDING_V1: &str = "r1";

/// Encodes a record as
/// `v2|msn|epoch|seq|duration_ms|bytes|program_date_time_ms|listed_at_ms|disc(0/1)`.
/// The discontinuity flag must stay the last field: the Redis scripts count trimmed
/// discontinuities by it.
pub(crate) fn encode_record(record: &SegmentRecord) -> String {
    format!(
        "{RECORD_V2}|{}|{}|{}|{}|{}|{}|{}|{}",
        record.msn,
        record.epoch,
        record.seq,
        record.duration_ms,
        record.bytes,
        record.program_date_time_ms,
        record.listed_at_ms,
        u8::from(record.discontinuity)
    )
}

/// Decodes [`encode_record`]'s output, or a v1 record (`seq = msn`, `bytes = 0`,
/// `listed_at_ms = 0`: v1 objects were named by their msn).
pub(crate) fn decode_record(encoded: &str) -> Result<SegmentRecord, String> {
    let bad = || format!("malformed segment record {encoded:?}");
    let number = |field: &str| field.parse::<u64>().map_err(|_| bad());
    let fields: Vec<&str> = encoded.split('|').collect();
    let (msn, epoch, seq, duration_ms, bytes, pdt_ms, listed_ms, discontinuity) =
        match fields.as_slice() {
            [version, msn, epoch, duration_ms, pdt_ms, disc] if *version == RECORD_V1 => {
                (*msn, *epoch, *msn, *duration_ms, "0", *pdt_ms, "0", *disc)
            }
            [
                version,
                msn,
                epoch,
                seq,
                duration_ms,
                bytes,
                pdt_ms,
                listed_ms,
                disc,
            ] if *version == RECORD_V2 => (
                *msn,
                *epoch,
                *seq,
                *duration_ms,
                *bytes,
                *pdt_ms,
                *listed_ms,
                *disc,
            ),
            [version, ..] if *version != RECORD_V1 && *version != RECORD_V2 => {
                return Err(format!("unknown segment record version {version:?}"));
            }
            _ => return Err(bad()),
        };
    Ok(SegmentRecord {
        msn: Msn(number(msn)?),
        epoch: Epoch(number(epoch)?),
        seq: number(seq)?,
        duration_ms: number(duration_ms)?,
        bytes: number(bytes)?,
        program_date_time_ms: pdt_ms.parse().map_err(|_| bad())?,
        listed_at_ms: listed_ms.parse().map_err(|_| bad())?,
        discontinuity: match discontinuity {
            "0" => false,
            "1" => true,
            _ => return Err(bad()),
        },
    })
}

/// Encodes a stream's state: a header line
/// `s1|epoch|generation|ended(0/1)|discontinuity_base|last_msn (empty if none)`, then one
/// [`encode_record`] line per listed record, oldest first; then each recording: a line
/// [`encode_recording`] followed by its records. (A build from before recordings refuses a
/// state that has one: a `dev` data directory does not go back.)
pub(crate) fn encode_stream(stream: &StreamState) -> String {
    let view = &stream.view;
    let last_msn = stream
        .last_msn
        .map(|msn| msn.to_string())
        .unwrap_or_default();
    let mut text = format!(
        "{STREAM_V1}|{}|{}|{}|{}|{last_msn}",
        view.epoch,
        view.generation,
        u8::from(view.ended),
        view.discontinuity_base
    );
    for record in &view.segments {
        text.push('\n');
        text.push_str(&encode_record(record));
    }
    for log in stream.recordings.values() {
        text.push('\n');
        text.push_str(&encode_recording(&log.summary));
        for record in &log.records {
            text.push('\n');
            text.push_str(&encode_record(record));
        }
    }
    text
}

/// `r1|generation|first_msn|last_msn|started_at_ms|media_end_ms|ended_at_ms|segments|
/// duration_ms|bytes|discontinuities|retention_ms|skipped|stopped|deleting` (no line break;
/// optional values empty when absent).
fn encode_recording(summary: &RecordingSummary) -> String {
    let optional = |value: Option<String>| value.unwrap_or_default();
    format!(
        "{RECORDING_V1}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        summary.generation,
        summary.first_msn,
        optional(summary.last_msn.map(|msn| msn.to_string())),
        summary.started_at_ms,
        summary.media_end_ms,
        optional(summary.ended_at_ms.map(|ms| ms.to_string())),
        summary.segments,
        summary.duration_ms,
        summary.bytes,
        summary.discontinuities,
        summary.retention_ms,
        summary.skipped_segments,
        u8::from(summary.stopped),
        u8::from(summary.deleting),
    )
}

fn decode_recording(line: &str) -> Result<RecordingSummary, String> {
    let bad = || format!("malformed recording header {line:?}");
    let fields: Vec<&str> = line.split('|').collect();
    let [
        _,
        generation,
        first_msn,
        last_msn,
        started,
        media_end,
        ended,
        segments,
        duration,
        bytes,
        discontinuities,
        retention,
        skipped,
        stopped,
        deleting,
    ] = fields.as_slice()
    else {
        return Err(bad());
    };
    let number = |field: &str| field.parse::<u64>().map_err(|_| bad());
    let signed = |field: &str| field.parse::<i64>().map_err(|_| bad());
    let flag = |field: &str| match field {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(bad()),
    };
    Ok(RecordingSummary {
        generation: Epoch(number(generation)?),
        first_msn: Msn(number(first_msn)?),
        last_msn: match *last_msn {
            "" => None,
            msn => Some(Msn(number(msn)?)),
        },
        started_at_ms: signed(started)?,
        media_end_ms: signed(media_end)?,
        ended_at_ms: match *ended {
            "" => None,
            ms => Some(signed(ms)?),
        },
        segments: number(segments)?,
        duration_ms: number(duration)?,
        bytes: number(bytes)?,
        discontinuities: number(discontinuities)?,
        retention_ms: number(retention)?,
        skipped_segments: number(skipped)?,
        stopped: flag(stopped)?,
        deleting: flag(deleting)?,
    })
}

/// Decodes [`encode_stream`]'s output.
pub(crate) fn decode_stream(encoded: &str) -> Result<StreamState, String> {
    let bad = || format!("malformed stream state header in {encoded:?}");
    let mut lines = encoded.split('\n');
    let header: Vec<&str> = lines.next().unwrap_or_default().split('|').collect();
    let [
        version,
        epoch,
        generation,
        ended,
        discontinuity_base,
        last_msn,
    ] = header.as_slice()
    else {
        return Err(bad());
    };
    if *version != STREAM_V1 {
        return Err(format!("unknown stream state version {version:?}"));
    }
    let number = |field: &str| field.parse::<u64>().map_err(|_| bad());
    let mut segments = Vec::new();
    let mut recordings: BTreeMap<Epoch, Log> = BTreeMap::new();
    let mut current: Option<Epoch> = None;
    for line in lines {
        if line.starts_with(RECORDING_V1) {
            let summary = decode_recording(line)?;
            let generation = summary.generation;
            let log = Log {
                summary,
                records: Vec::new(),
            };
            recordings.insert(generation, log);
            current = Some(generation);
            continue;
        }
        let record = decode_record(line)?;
        match current.and_then(|generation| recordings.get_mut(&generation)) {
            Some(log) => log.records.push(record),
            None => segments.push(record),
        }
    }
    Ok(StreamState {
        view: IndexState {
            segments,
            discontinuity_base: number(discontinuity_base)?,
            ended: match *ended {
                "0" => false,
                "1" => true,
                _ => return Err(bad()),
            },
            epoch: Epoch(number(epoch)?),
            generation: Epoch(number(generation)?),
        },
        last_msn: match *last_msn {
            "" => None,
            msn => Some(Msn(number(msn)?)),
        },
        recordings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(msn: u64, discontinuity: bool) -> SegmentRecord {
        SegmentRecord {
            msn: Msn(msn),
            epoch: Epoch(7),
            seq: 3,
            duration_ms: 2002,
            bytes: 512_000,
            program_date_time_ms: -5,
            listed_at_ms: 1_700_000_000_123,
            discontinuity,
        }
    }

    #[test]
    fn records_round_trip_and_end_in_the_discontinuity_flag() {
        let record = record(u64::MAX, true);
        let encoded = encode_record(&record);
        assert_eq!(
            encoded,
            format!("v2|{}|7|3|2002|512000|-5|1700000000123|1", u64::MAX)
        );
        assert!(
            encoded.ends_with("|1"),
            "APPEND counts trimmed discontinuities by this"
        );
        assert_eq!(decode_record(&encoded), Ok(record));
    }

    #[test]
    fn v1_records_still_decode_named_by_their_msn() {
        let decoded = decode_record("v1|42|7|2002|-5|0").unwrap();
        assert_eq!(
            decoded,
            SegmentRecord {
                msn: Msn(42),
                epoch: Epoch(7),
                seq: 42,
                duration_ms: 2002,
                bytes: 0,
                program_date_time_ms: -5,
                listed_at_ms: 0,
                discontinuity: false,
            }
        );
    }

    #[test]
    fn malformed_records_are_errors() {
        for bad in [
            "",
            "v1|1|2|3|4",
            "v2|1|2|3|4|0",
            "v3|1|2|3|4|5|6|0",
            "v1|x|2|3|4|0",
            "v1|1|2|3|4|2",
            "v2|1|2|3|4|-5|6|7|0",
            "v2|1|2|3|4|5|6|0",
            "v2|1|2|3|4|5|6|7|0|0",
        ] {
            assert!(decode_record(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stream_states_round_trip() {
        let mut stream = StreamState {
            view: IndexState {
                segments: vec![record(4, true), record(5, false)],
                discontinuity_base: 2,
                ended: true,
                epoch: Epoch(9),
                generation: Epoch(8),
            },
            last_msn: Some(Msn(5)),
            recordings: BTreeMap::new(),
        };
        assert_eq!(decode_stream(&encode_stream(&stream)), Ok(stream.clone()));
        let mut recorded = stream.clone();
        let summary = RecordingSummary {
            generation: Epoch(8),
            first_msn: Msn(4),
            last_msn: Some(Msn(5)),
            ended_at_ms: Some(-3),
            stopped: true,
            ..RecordingSummary::default()
        };
        let log = Log {
            summary,
            records: vec![record(4, true), record(5, false)],
        };
        recorded.recordings.insert(Epoch(8), log);
        let empty = Log {
            summary: RecordingSummary {
                generation: Epoch(9),
                ..RecordingSummary::default()
            },
            records: Vec::new(),
        };
        recorded.recordings.insert(Epoch(9), empty);
        assert_eq!(decode_stream(&encode_stream(&recorded)), Ok(recorded));
        stream.view.segments.clear();
        stream.last_msn = None;
        let encoded = encode_stream(&stream);
        assert_eq!(encoded, "s1|9|8|1|2|");
        assert_eq!(decode_stream(&encoded), Ok(stream));
        for bad in ["", "s1|9|8|1|2", "s2|9|8|1|2|", "s1|9|8|1|2|\nv9|x"] {
            assert!(decode_stream(bad).is_err(), "{bad:?}");
        }
    }
}
