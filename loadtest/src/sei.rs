//! Wall-clock stamps carried inside H.264 video, so that end-to-end latency can be measured
//! through any server that forwards the video untouched.
//!
//! The publisher inserts one SEI NAL unit (`nal_unit_type` 6) into every AVCC access unit:
//! a single `user_data_unregistered` message (payload type 5) made of [`STAMP_UUID`] and the
//! send time as 8 big-endian bytes of Unix microseconds. The NAL unit is written with
//! emulation prevention (an `03` after every `00 00` that precedes a byte ≤ `03`), so a
//! timestamp with zero bytes stays a valid bitstream; readers remove it again.

use bytes::{BufMut, BytesMut};

/// Identifies our stamps among other `user_data_unregistered` messages (x264 writes one too).
/// No zero byte, so the UUID itself never needs escaping.
pub const STAMP_UUID: [u8; 16] = [
    0x8f, 0x3c, 0x5e, 0xa1, 0x47, 0xd2, 0x4b, 0x19, 0xb6, 0x2e, 0x71, 0xc4, 0x9a, 0x58, 0xe3, 0x3d,
];

/// NAL unit type of supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// NAL unit type of an access unit delimiter, which must stay first in an access unit.
const NAL_AUD: u8 = 9;
const PAYLOAD_USER_DATA_UNREGISTERED: u8 = 5;
const PAYLOAD_LEN: u8 = 16 + 8;
/// Longest stamp NAL unit: header, type, size, payload with every possible escape, trailer.
pub const MAX_STAMP_NAL_LEN: usize = 3 + PAYLOAD_LEN as usize * 3 / 2 + 1;

/// Why an AVCC access unit could not be stamped.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AvccError {
    /// The NAL unit length size is not 1, 2, 3 or 4.
    #[error("unsupported NAL unit length size {0}")]
    LengthSize(usize),
    /// A NAL unit length runs past the end of the access unit.
    #[error("NAL unit length past the end of the access unit")]
    Truncated,
}

/// Appends the stamp NAL unit for `unix_us` (header byte included) to `out`.
pub fn write_stamp_nal(unix_us: u64, out: &mut Vec<u8>) {
    let mut rbsp = [0u8; 3 + PAYLOAD_LEN as usize];
    rbsp[0] = PAYLOAD_USER_DATA_UNREGISTERED;
    rbsp[1] = PAYLOAD_LEN;
    rbsp[2..18].copy_from_slice(&STAMP_UUID);
    rbsp[18..26].copy_from_slice(&unix_us.to_be_bytes());
    rbsp[26] = 0x80; // rbsp_trailing_bits: a stop bit, then alignment zeros
    out.push(NAL_SEI);
    let mut zeros = 0;
    for &byte in &rbsp {
        if zeros >= 2 && byte <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(byte);
        zeros = if byte == 0 { zeros + 1 } else { 0 };
    }
}

/// The send time carried by `nal` (a whole NAL unit, header byte included), if it is one of
/// our stamps.
pub fn read_stamp(nal: &[u8]) -> Option<u64> {
    let (&header, escaped) = nal.split_first()?;
    if header & 0x1f != NAL_SEI {
        return None;
    }
    let mut rbsp = Unescape {
        bytes: escaped.iter(),
        zeros: 0,
    };
    // sei_message()s until the trailing bits: ff-coded type and size, then the payload.
    loop {
        let payload_type = read_ff_coded(&mut rbsp)?;
        let payload_size = read_ff_coded(&mut rbsp)?;
        if payload_type == u32::from(PAYLOAD_USER_DATA_UNREGISTERED)
            && payload_size >= u32::from(PAYLOAD_LEN)
        {
            let mut uuid_matches = true;
            for expected in STAMP_UUID {
                uuid_matches &= rbsp.next()? == expected;
            }
            if uuid_matches {
                let mut time = [0u8; 8];
                for slot in &mut time {
                    *slot = rbsp.next()?;
                }
                return Some(u64::from_be_bytes(time));
            }
            skip(&mut rbsp, payload_size - STAMP_UUID.len() as u32)?;
        } else {
            skip(&mut rbsp, payload_size)?;
        }
        if rbsp.clone().next().is_none_or(|byte| byte == 0x80) {
            return None;
        }
    }
}

fn skip(rbsp: &mut Unescape<'_>, count: u32) -> Option<()> {
    for _ in 0..count {
        rbsp.next()?;
    }
    Some(())
}

fn read_ff_coded(rbsp: &mut Unescape<'_>) -> Option<u32> {
    let mut value = 0u32;
    loop {
        let byte = rbsp.next()?;
        value = value.checked_add(u32::from(byte))?;
        if byte != 0xff {
            return Some(value);
        }
    }
}

/// Iterates over the RBSP bytes of an escaped NAL unit payload.
#[derive(Clone)]
struct Unescape<'a> {
    bytes: std::slice::Iter<'a, u8>,
    zeros: usize,
}

impl Iterator for Unescape<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let mut byte = *self.bytes.next()?;
        if self.zeros >= 2 && byte == 3 {
            self.zeros = 0;
            byte = *self.bytes.next()?;
        }
        self.zeros = if byte == 0 { self.zeros + 1 } else { 0 };
        Some(byte)
    }
}

/// Writes `access_unit` (AVCC: NAL units each prefixed by a `length_size`-byte big-endian
/// length) to `out` with `nal` inserted as a NAL unit of its own: after a leading access unit
/// delimiter if there is one, else first.
pub fn insert_nal(
    access_unit: &[u8],
    nal: &[u8],
    length_size: usize,
    out: &mut BytesMut,
) -> Result<(), AvccError> {
    if !(1..=4).contains(&length_size) || nal.len() >= 1usize << (8 * length_size) {
        return Err(AvccError::LengthSize(length_size));
    }
    let mut insert_at = 0;
    let mut first = true;
    for unit in nal_units(access_unit, length_size) {
        let unit = unit?;
        if first && unit.first().is_some_and(|header| header & 0x1f == NAL_AUD) {
            insert_at = length_size + unit.len();
        }
        first = false;
    }
    out.reserve(access_unit.len() + length_size + nal.len());
    out.put_slice(&access_unit[..insert_at]);
    out.put_uint(nal.len() as u64, length_size);
    out.put_slice(nal);
    out.put_slice(&access_unit[insert_at..]);
    Ok(())
}

/// The NAL units of an AVCC access unit, or an error where the framing is broken.
pub fn nal_units(
    access_unit: &[u8],
    length_size: usize,
) -> impl Iterator<Item = Result<&[u8], AvccError>> {
    let mut rest = access_unit;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() < length_size {
            rest = &[];
            return Some(Err(AvccError::Truncated));
        }
        let (prefix, after) = rest.split_at(length_size);
        let len = prefix
            .iter()
            .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte));
        if after.len() < len {
            rest = &[];
            return Some(Err(AvccError::Truncated));
        }
        let (unit, remaining) = after.split_at(len);
        rest = remaining;
        Some(Ok(unit))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn stamp(unix_us: u64) -> Vec<u8> {
        let mut nal = Vec::new();
        write_stamp_nal(unix_us, &mut nal);
        nal
    }

    fn has_start_code_emulation(escaped: &[u8]) -> bool {
        escaped
            .windows(3)
            .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2)
    }

    #[test]
    fn round_trips_times_with_zero_bytes() {
        let times = [
            0,
            1,
            0x0000_0000_0300_0000,
            0x0001_0000_0000_0002,
            1_767_000_000_123_456,
            u64::MAX,
        ];
        for time in times {
            let nal = stamp(time);
            assert!(
                nal.len() <= MAX_STAMP_NAL_LEN,
                "{time:#x}: {} bytes",
                nal.len()
            );
            assert!(
                !has_start_code_emulation(&nal[1..]),
                "{time:#x}: {nal:02x?}"
            );
            assert_eq!(read_stamp(&nal), Some(time), "{time:#x}");
        }
    }

    #[test]
    fn zero_time_is_escaped() {
        let nal = stamp(0);
        // 8 zero bytes need escapes after every second zero.
        assert!(nal.len() > 1 + 3 + usize::from(PAYLOAD_LEN));
        assert!(nal.windows(3).any(|w| w == [0, 0, 3]));
    }

    #[test]
    fn ignores_other_user_data_and_other_nal_types() {
        let mut x264 = vec![NAL_SEI, 5, 30];
        x264.extend_from_slice(&[0x11; 30]);
        x264.push(0x80);
        assert_eq!(read_stamp(&x264), None);
        let mut slice = stamp(42);
        slice[0] = 0x65;
        assert_eq!(read_stamp(&slice), None);
        assert_eq!(read_stamp(&[]), None);
        assert_eq!(read_stamp(&stamp(42)[..20]), None);
    }

    #[test]
    fn finds_the_stamp_after_another_user_data_message() {
        let ours = stamp(9);
        let mut nal = vec![NAL_SEI, 5, 30];
        nal.extend_from_slice(&[0x11; 30]);
        nal.extend_from_slice(&ours[1..]);
        assert_eq!(read_stamp(&nal), Some(9));
    }

    #[test]
    fn finds_the_stamp_after_another_sei_message() {
        let ours = stamp(7);
        let mut nal = vec![NAL_SEI, 1, 2, 0xaa, 0xbb];
        nal.extend_from_slice(&ours[1..]);
        assert_eq!(read_stamp(&nal), Some(7));
    }

    fn avcc(units: &[&[u8]], length_size: usize) -> Vec<u8> {
        let mut out = BytesMut::new();
        for unit in units {
            out.put_uint(unit.len() as u64, length_size);
            out.put_slice(unit);
        }
        out.to_vec()
    }

    #[test]
    fn insertion_keeps_the_avcc_framing() {
        for length_size in [1, 2, 4] {
            let idr: &[u8] = &[0x65, 0x88, 0x84, 0x00, 0x21];
            let slice: &[u8] = &[0x41, 0x9a, 0x00, 0x00, 0x01];
            let original = avcc(&[idr, slice], length_size);
            let sei = stamp(1_767_000_000_000_000);
            let mut out = BytesMut::new();
            insert_nal(&original, &sei, length_size, &mut out).unwrap();
            let units: Vec<&[u8]> = nal_units(&out, length_size)
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(units, vec![sei.as_slice(), idr, slice]);
            assert_eq!(read_stamp(units[0]), Some(1_767_000_000_000_000));
        }
    }

    #[test]
    fn insertion_goes_after_an_access_unit_delimiter() {
        let aud: &[u8] = &[0x09, 0xf0];
        let idr: &[u8] = &[0x65, 0x88];
        let original = avcc(&[aud, idr], 4);
        let sei = stamp(5);
        let mut out = BytesMut::new();
        insert_nal(&original, &sei, 4, &mut out).unwrap();
        let units: Vec<&[u8]> = nal_units(&out, 4).collect::<Result<_, _>>().unwrap();
        assert_eq!(units, vec![aud, sei.as_slice(), idr]);
    }

    #[test]
    fn insertion_refuses_broken_framing() {
        let mut out = BytesMut::new();
        let broken = [0, 0, 0, 9, 0x65];
        assert_eq!(
            insert_nal(&broken, &stamp(1), 4, &mut out),
            Err(AvccError::Truncated)
        );
        assert_eq!(
            insert_nal(&[], &stamp(1), 5, &mut out),
            Err(AvccError::LengthSize(5))
        );
    }
}
