//! Program specific information: the PAT and PMT sections (with their
//! CRC-32/MPEG-2) that tell a demuxer which PIDs carry which streams.

use super::packet::{PAYLOAD_CAPACITY, write_header};

/// Table id of the program association section.
const TABLE_PAT: u8 = 0x00;
/// Table id of the program map section.
const TABLE_PMT: u8 = 0x02;
/// Transport stream id written in the PAT (arbitrary, single stream).
const TRANSPORT_STREAM_ID: u16 = 1;
/// Program number of our single program.
pub const PROGRAM_NUMBER: u16 = 1;
/// PID value meaning "no PCR" in the PMT.
pub const NO_PCR_PID: u16 = 0x1FFF;

/// One elementary stream entry of the PMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamEntry {
    pub stream_type: u8,
    pub pid: u16,
}

/// CRC-32/MPEG-2 lookup table (polynomial 0x04C11DB7, MSB first).
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32/MPEG-2: init 0xFFFFFFFF, no reflection, no final xor. A section
/// including its trailing CRC checks to 0.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    data.iter().fold(0xFFFF_FFFF, |crc, &byte| {
        let index = usize::from((crc >> 24) as u8 ^ byte);
        (crc << 8) ^ CRC_TABLE.get(index).copied().unwrap_or(0)
    })
}

/// Builds a long-form section: header, `body`, CRC.
fn section(table_id: u8, id: u16, version: u8, body: &[u8]) -> Vec<u8> {
    // section_length counts from after the length field through the CRC.
    let section_length = (5 + body.len() + 4) as u16;
    let [len_hi, len_lo] = section_length.to_be_bytes();
    let [id_hi, id_lo] = id.to_be_bytes();
    let mut out = vec![
        table_id,
        0xB0 | (len_hi & 0x0F), // syntax indicator, '0', reserved
        len_lo,
        id_hi,
        id_lo,
        0xC1 | ((version & 0x1F) << 1), // reserved, version, current_next
        0,                              // section_number
        0,                              // last_section_number
    ];
    out.extend_from_slice(body);
    let crc = crc32_mpeg2(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// The PAT announcing our single program at `pmt_pid`.
pub(crate) fn pat_section(pmt_pid: u16) -> Vec<u8> {
    let [prog_hi, prog_lo] = PROGRAM_NUMBER.to_be_bytes();
    let [pid_hi, pid_lo] = pmt_pid.to_be_bytes();
    section(
        TABLE_PAT,
        TRANSPORT_STREAM_ID,
        0,
        &[prog_hi, prog_lo, 0xE0 | pid_hi, pid_lo],
    )
}

/// The PMT listing `streams`, with the PCR carried on `pcr_pid`.
pub(crate) fn pmt_section(pcr_pid: u16, version: u8, streams: &[StreamEntry]) -> Vec<u8> {
    let [pcr_hi, pcr_lo] = pcr_pid.to_be_bytes();
    let mut body = vec![0xE0 | pcr_hi, pcr_lo, 0xF0, 0]; // program_info_length 0
    for stream in streams {
        let [pid_hi, pid_lo] = stream.pid.to_be_bytes();
        body.extend_from_slice(&[stream.stream_type, 0xE0 | pid_hi, pid_lo, 0xF0, 0]);
    }
    section(TABLE_PMT, PROGRAM_NUMBER, version, &body)
}

/// Writes a section (which must fit one packet) as a single packet with
/// pointer_field 0 and 0xFF filler.
pub(crate) fn write_section_packet(
    out: &mut Vec<u8>,
    pid: u16,
    continuity: &mut u8,
    section: &[u8],
) {
    let start = out.len();
    write_header(out, pid, true, false, continuity);
    out.push(0); // pointer_field
    let room = PAYLOAD_CAPACITY - 1;
    out.extend_from_slice(section.get(..room).unwrap_or(section));
    out.resize(start + super::PACKET_SIZE, 0xFF);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        // The standard check value of CRC-32/MPEG-2 for "123456789".
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
    }

    #[test]
    fn pat_matches_reference_bytes() {
        // PAT for program 1 -> PID 0x1000, as produced by common muxers.
        assert_eq!(
            pat_section(0x1000),
            [
                0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00, 0x2A, 0xB1,
                0x04, 0xB2
            ]
        );
    }

    #[test]
    fn sections_verify_and_declare_their_length() {
        let streams = [
            StreamEntry {
                stream_type: 0x1B,
                pid: 0x100,
            },
            StreamEntry {
                stream_type: 0x0F,
                pid: 0x101,
            },
        ];
        let pmt = pmt_section(0x100, 3, &streams);
        assert_eq!(crc32_mpeg2(&pmt), 0);
        let declared = (usize::from(pmt[1] & 0x0F) << 8) | usize::from(pmt[2]);
        assert_eq!(declared + 3, pmt.len());
        assert_eq!((pmt[5] >> 1) & 0x1F, 3);
        assert_eq!(crc32_mpeg2(&pat_section(0x1000)), 0);
    }
}
