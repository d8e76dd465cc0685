//! Text encodings of index data: segment records (Redis list entries, disk index lines) and a
//! whole stream's state (one disk index value).
//!
//! Each layout starts with a version tag, so entries written by an older build stay readable
//! during a rolling upgrade (and in a `dev` data directory kept across upgrades). Numbers are
//! canonical decimals: the Redis scripts compare them as strings, never as Lua doubles.

use ferrocast_base::{Epoch, Msn};

use std::collections::BTreeMap;

use crate::index::{CmafTracks, IndexState, SegmentRecord};
use crate::recording::RecordingSummary;
use crate::recording::rules::Log;
use crate::stream_state::StreamState;

/// Tag of the first record layout (no `seq`, no `bytes`): still decoded.
const RECORD_V1: &str = "v1";
/// Tag of the second record layout (no `cmaf`): still decoded.
const RECORD_V2: &str = "v2";
/// Tag of the current record layout.
const RECORD_V3: &str = "v3";
/// Tag of the stream state layout.
const STREAM_V1: &str = "s1";
/// Tag of a recording's header line in a stream state.
const RECORDING_V1: &str = "r1";
/// The `cmaf` field of a record that names no stored CMAF object.
const NO_CMAF: &str = "-.-";

/// Encodes a record as
/// `v3|msn|epoch|seq|duration_ms|bytes|program_date_time_ms|listed_at_ms|cmaf|disc(0/1)`,
/// where `cmaf` is `<video init version>.<audio init version>`, `-` for a track not stored;
/// a record that names no CMAF object keeps layout v2 (the same without `cmaf`), so that
/// during a rolling upgrade an older edge still reads every stream that does not record.
/// The discontinuity flag must stay the last field: the Redis scripts count trimmed
/// discontinuities by it.
pub(crate) fn encode_record(record: &SegmentRecord) -> String {
    let common = format!(
        "{}|{}|{}|{}|{}|{}|{}",
        record.msn,
        record.epoch,
        record.seq,
        record.duration_ms,
        record.bytes,
        record.program_date_time_ms,
        record.listed_at_ms,
    );
    let discontinuity = u8::from(record.discontinuity);
    if record.cmaf == CmafTracks::default() {
        return format!("{RECORD_V2}|{common}|{discontinuity}");
    }
    let version = |init: Option<u32>| init.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let (video, audio) = (version(record.cmaf.video), version(record.cmaf.audio));
    format!("{RECORD_V3}|{common}|{video}.{audio}|{discontinuity}")
}

/// Decodes [`encode_record`]'s output; also a v2 record (no CMAF object named) and a v1
/// record (`seq = msn`, `bytes = 0`, `listed_at_ms = 0`: v1 objects were named by their msn).
pub(crate) fn decode_record(encoded: &str) -> Result<SegmentRecord, String> {
    let bad = || format!("malformed segment record {encoded:?}");
    let number = |field: &str| field.parse::<u64>().map_err(|_| bad());
    let fields: Vec<&str> = encoded.split('|').collect();
    // Every layout as the v3 fields, defaults standing in for those it lacks.
    let v3: Vec<&str> = match fields.as_slice() {
        [RECORD_V1, msn, epoch, duration, pdt, disc] => {
            vec![msn, epoch, msn, duration, "0", pdt, "0", NO_CMAF, disc]
        }
        [RECORD_V2, v2 @ ..] if v2.len() == 8 => {
            let mut fields = v2.to_vec();
            fields.insert(7, NO_CMAF);
            fields
        }
        [RECORD_V1 | RECORD_V2 | RECORD_V3, rest @ ..] => rest.to_vec(),
        [version, ..] => return Err(format!("unknown segment record version {version:?}")),
        [] => return Err(bad()),
    };
    let [
        msn,
        epoch,
        seq,
        duration_ms,
        bytes,
        pdt_ms,
        listed_ms,
        cmaf,
        discontinuity,
    ] = v3.as_slice()
    else {
        return Err(bad());
    };
    Ok(SegmentRecord {
        msn: Msn(number(msn)?),
        epoch: Epoch(number(epoch)?),
        seq: number(seq)?,
        duration_ms: number(duration_ms)?,
        bytes: number(bytes)?,
        program_date_time_ms: pdt_ms.parse().map_err(|_| bad())?,
        listed_at_ms: listed_ms.parse().map_err(|_| bad())?,
        cmaf: decode_cmaf(cmaf).ok_or_else(bad)?,
        discontinuity: match *discontinuity {
            "0" => false,
            "1" => true,
            _ => return Err(bad()),
        },
    })
}

/// `<video>.<audio>`, each an init version or `-`.
fn decode_cmaf(field: &str) -> Option<CmafTracks> {
    let version = |text: &str| match text {
        "-" => Some(None),
        digits => digits.parse::<u32>().ok().map(Some),
    };
    let (video, audio) = field.split_once('.')?;
    Some(CmafTracks {
        video: version(video)?,
        audio: version(audio)?,
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
            cmaf: CmafTracks {
                video: Some(2),
                audio: None,
            },
            discontinuity,
        }
    }

    #[test]
    fn records_round_trip_and_end_in_the_discontinuity_flag() {
        let record = record(u64::MAX, true);
        let encoded = encode_record(&record);
        assert_eq!(
            encoded,
            format!("v3|{}|7|3|2002|512000|-5|1700000000123|2.-|1", u64::MAX)
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
                cmaf: CmafTracks::default(),
                discontinuity: false,
            }
        );
        let v2 = decode_record("v2|42|7|3|2002|512000|-5|9|1").unwrap();
        assert_eq!((v2.seq, v2.bytes, v2.listed_at_ms), (3, 512_000, 9));
        assert_eq!((v2.cmaf, v2.discontinuity), (CmafTracks::default(), true));
        assert_eq!(
            encode_record(&v2),
            "v2|42|7|3|2002|512000|-5|9|1",
            "a record without CMAF objects stays readable by older builds"
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
            "v3|1|2|3|4|5|6|7|0",
            "v3|1|2|3|4|5|6|7|-|0",
            "v3|1|2|3|4|5|6|7|1.x|0",
            "v3|1|2|3|4|5|6|7|-.-.-|0",
            "v3|1|2|3|4|5|6|7|-.-|0|0",
            "v4|1|2|3|4|5|6|7|-.-|0",
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
