//! Reading back one thing from an MPEG-TS segment: its first H.264 access unit, which in a
//! segment cut at keyframes is the keyframe a recording's thumbnail is made from (ADR 23).
//!
//! Not a general demuxer: it follows the PAT to the PMT, takes the first H.264 stream, and
//! joins the payloads of that PID from the first PES start up to the next one. Anything it
//! does not understand ends the search with `None`, never a panic: segments are ours, but
//! they come back from an object store.

use super::packet::{PACKET_SIZE, SYNC_BYTE};
use super::{PAT_PID, STREAM_TYPE_H264};

/// Longest access unit returned: a keyframe of 8K video at a high bitrate fits.
const MAX_ACCESS_UNIT: usize = 16 * 1024 * 1024;

/// The payload of one transport packet and whether a unit (PES or section) starts in it.
struct Payload<'a> {
    pid: u16,
    unit_start: bool,
    data: &'a [u8],
}

fn packets(segment: &[u8]) -> impl Iterator<Item = Payload<'_>> {
    segment
        .chunks_exact(PACKET_SIZE)
        .take_while(|packet| packet[0] == SYNC_BYTE)
        .filter_map(|packet| {
            let pid = u16::from(packet[1] & 0x1F) << 8 | u16::from(packet[2]);
            let unit_start = packet[1] & 0x40 != 0;
            let adaptation = (packet[3] >> 4) & 0x3;
            let start = match adaptation {
                0b01 => 4,
                0b11 => 5 + usize::from(packet[4]),
                _ => return None, // no payload
            };
            let data = packet.get(start..)?;
            Some(Payload {
                pid,
                unit_start,
                data,
            })
        })
}

/// The section of a PSI payload (after its pointer field), up to its declared length.
fn section(payload: &[u8]) -> Option<&[u8]> {
    let pointer = usize::from(*payload.first()?);
    let section = payload.get(1 + pointer..)?;
    let length = usize::from(u16::from(section.get(1)? & 0x0F) << 8 | u16::from(*section.get(2)?));
    // The CRC's four bytes end the section; what comes before them is the body.
    section
        .get(..3 + length)?
        .get(..(3 + length).checked_sub(4)?)
}

/// The PMT PID of the first program in a PAT.
fn pmt_pid(pat: &[u8]) -> Option<u16> {
    pat.get(8..)?.chunks_exact(4).find_map(|entry| {
        let program = u16::from(entry[0]) << 8 | u16::from(entry[1]);
        (program != 0).then(|| u16::from(entry[2] & 0x1F) << 8 | u16::from(entry[3]))
    })
}

/// The PID of the first H.264 stream in a PMT.
fn h264_pid(pmt: &[u8]) -> Option<u16> {
    let info_length = usize::from(u16::from(pmt.get(10)? & 0x0F) << 8 | u16::from(*pmt.get(11)?));
    let mut rest = pmt.get(12 + info_length..)?;
    while rest.len() >= 5 {
        let pid = u16::from(rest[1] & 0x1F) << 8 | u16::from(rest[2]);
        let es_info = usize::from(u16::from(rest[3] & 0x0F) << 8 | u16::from(rest[4]));
        if rest[0] == STREAM_TYPE_H264 {
            return Some(pid);
        }
        rest = rest.get(5 + es_info..)?;
    }
    None
}

/// The elementary stream bytes of a whole PES packet (its header skipped).
fn pes_body(pes: &[u8]) -> Option<&[u8]> {
    if pes.get(..3)? != [0, 0, 1] {
        return None;
    }
    let header_length = usize::from(*pes.get(8)?);
    pes.get(9 + header_length..)
}

/// The first H.264 access unit of `segment` (Annex-B, as muxed), or `None` when the segment
/// has no H.264 stream or is cut short before the unit's end is known. A unit that runs to
/// the end of the segment counts as whole.
pub fn first_h264_access_unit(segment: &[u8]) -> Option<Vec<u8>> {
    let pat = packets(segment).find(|p| p.pid == PAT_PID && p.unit_start)?;
    let pmt_pid = pmt_pid(section(pat.data)?)?;
    let pmt = packets(segment).find(|p| p.pid == pmt_pid && p.unit_start)?;
    let video = h264_pid(section(pmt.data)?)?;
    let mut pes: Option<Vec<u8>> = None;
    for packet in packets(segment).filter(|p| p.pid == video) {
        match (&mut pes, packet.unit_start) {
            (None, true) => pes = Some(packet.data.to_vec()),
            (None, false) => {} // the tail of a unit begun in an earlier segment
            (Some(_), true) => break,
            (Some(unit), false) => {
                unit.extend_from_slice(packet.data);
                if unit.len() > MAX_ACCESS_UNIT {
                    return None;
                }
            }
        }
    }
    pes.as_deref().and_then(pes_body).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ts::Muxer;

    #[test]
    fn reads_back_the_first_access_unit_the_muxer_wrote() {
        let first: Vec<u8> = [0, 0, 0, 1, 0x67, 1, 2, 3, 0, 0, 0, 1, 0x65]
            .into_iter()
            .chain((0..1000).map(|i| (i % 251) as u8))
            .collect();
        let second = vec![0, 0, 0, 1, 0x41, 9, 9, 9];
        let mut muxer = Muxer::new(true, true);
        let mut out = Vec::new();
        muxer.write_tables(&mut out);
        muxer.write_video(0, 0, true, &first, &mut out);
        muxer.write_audio(10, &[0xFF, 0xF1, 1, 2, 3], &mut out);
        muxer.write_video(3000, 3000, false, &second, &mut out);
        assert_eq!(first_h264_access_unit(&out).as_deref(), Some(&first[..]));
    }

    #[test]
    fn anything_else_is_none() {
        assert_eq!(first_h264_access_unit(&[]), None);
        assert_eq!(first_h264_access_unit(&[0x47; 188 * 3]), None);
        let mut audio_only = Vec::new();
        let mut muxer = Muxer::new(false, true);
        muxer.write_tables(&mut audio_only);
        muxer.write_audio(0, &[0xFF, 0xF1, 1, 2, 3], &mut audio_only);
        assert_eq!(first_h264_access_unit(&audio_only), None);
        for cut in [1, 100, 188, 300, 376, 500] {
            let _ = first_h264_access_unit(&audio_only[..cut.min(audio_only.len())]);
        }
    }
}
