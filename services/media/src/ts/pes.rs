//! PES packet headers carrying the 33-bit 90 kHz PTS/DTS of each frame.

use super::packet::CLOCK_MASK;

/// PES stream id of the first video stream.
pub const STREAM_ID_VIDEO: u8 = 0xE0;
/// PES stream id of the first audio stream.
pub const STREAM_ID_AUDIO: u8 = 0xC0;
/// Bytes between the PES_packet_length field and the optional fields.
const FLAGS_LEN: usize = 3;
const TIMESTAMP_LEN: usize = 5;

/// Appends a PES header for a payload of `payload_len` bytes.
///
/// `dts` is written only when it differs from `pts`. With `bounded` the
/// PES_packet_length is filled in when it fits 16 bits; otherwise it is 0
/// ("unbounded"), which MPEG-TS allows only for video.
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    stream_id: u8,
    pts: u64,
    dts: Option<u64>,
    payload_len: usize,
    bounded: bool,
) {
    let pts = pts & CLOCK_MASK;
    let dts = dts.map(|dts| dts & CLOCK_MASK).filter(|&dts| dts != pts);
    let optional_len = if dts.is_some() {
        2 * TIMESTAMP_LEN
    } else {
        TIMESTAMP_LEN
    };
    let packet_length = if bounded {
        u16::try_from(FLAGS_LEN + optional_len + payload_len).unwrap_or(0)
    } else {
        0
    };
    out.extend_from_slice(&[0, 0, 1, stream_id]);
    out.extend_from_slice(&packet_length.to_be_bytes());
    let pts_dts_flags = if dts.is_some() { 0xC0 } else { 0x80 };
    // '10' marker + data_alignment_indicator: every PES starts an access unit.
    out.extend_from_slice(&[0x84, pts_dts_flags, optional_len as u8]);
    match dts {
        Some(dts) => {
            out.extend_from_slice(&encode_timestamp(0x3, pts));
            out.extend_from_slice(&encode_timestamp(0x1, dts));
        }
        None => out.extend_from_slice(&encode_timestamp(0x2, pts)),
    }
}

/// Encodes a 33-bit timestamp with its 4-bit prefix and marker bits.
fn encode_timestamp(prefix: u8, ts: u64) -> [u8; TIMESTAMP_LEN] {
    [
        (prefix << 4) | (((ts >> 29) as u8) & 0x0E) | 1,
        (ts >> 22) as u8,
        (((ts >> 14) as u8) & 0xFE) | 1,
        (ts >> 7) as u8,
        (((ts << 1) as u8) & 0xFE) | 1,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::parse_pes;

    #[test]
    fn pts_only_when_equal() {
        let mut out = Vec::new();
        write_header(&mut out, STREAM_ID_AUDIO, 90_000, Some(90_000), 10, true);
        out.extend_from_slice(&[0; 10]);
        let pes = parse_pes(&out);
        assert_eq!(pes.stream_id, STREAM_ID_AUDIO);
        assert_eq!(pes.pts, Some(90_000));
        assert_eq!(pes.dts, None);
        assert_eq!(pes.packet_length, 3 + 5 + 10);
        assert_eq!(out[7], 0x80);
    }

    #[test]
    fn pts_and_dts_round_trip_with_wrap() {
        for (pts, dts) in [
            (6_000, 3_000),
            (CLOCK_MASK, CLOCK_MASK - 3_000),
            ((1 << 33) + 5, 4),
        ] {
            let mut out = Vec::new();
            write_header(&mut out, STREAM_ID_VIDEO, pts, Some(dts), 1, false);
            out.push(0);
            let pes = parse_pes(&out);
            assert_eq!(pes.pts, Some(pts & CLOCK_MASK));
            assert_eq!(pes.dts, Some(dts & CLOCK_MASK));
            assert_eq!(pes.packet_length, 0);
        }
    }

    #[test]
    fn oversized_bounded_payload_falls_back_to_zero_length() {
        let mut out = Vec::new();
        write_header(&mut out, STREAM_ID_AUDIO, 0, None, 70_000, true);
        assert_eq!(&out[4..6], &[0, 0]);
    }
}
