//! 188-byte transport stream packetization: packet headers, adaptation fields
//! (PCR, random access indicator, stuffing) and continuity counters.

/// Size of every transport stream packet.
pub const PACKET_SIZE: usize = 188;
/// Sync byte that starts every packet.
pub const SYNC_BYTE: u8 = 0x47;
const HEADER_LEN: usize = 4;
/// Payload room of a packet without adaptation field.
pub(crate) const PAYLOAD_CAPACITY: usize = PACKET_SIZE - HEADER_LEN;
const PCR_LEN: usize = 6;
const FLAG_RANDOM_ACCESS: u8 = 0x40;
const FLAG_PCR: u8 = 0x10;
/// Mask of the 33-bit PTS/DTS/PCR base clock.
pub const CLOCK_MASK: u64 = (1 << 33) - 1;

/// Adaptation field contents for the first packet of a PES packet.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FirstPacket {
    /// PCR base in 90 kHz units (extension 0), if this packet carries one.
    pub pcr: Option<u64>,
    /// Set random_access_indicator (the PES starts a keyframe).
    pub random_access: bool,
}

/// Writes a 4-byte packet header and advances the 4-bit continuity counter
/// (every packet we write carries payload, so every packet advances it).
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    pid: u16,
    unit_start: bool,
    has_adaptation: bool,
    continuity: &mut u8,
) {
    let [pid_hi, pid_lo] = pid.to_be_bytes();
    let adaptation_control = if has_adaptation { 0x30 } else { 0x10 };
    out.extend_from_slice(&[
        SYNC_BYTE,
        (u8::from(unit_start) << 6) | (pid_hi & 0x1F),
        pid_lo,
        adaptation_control | (*continuity & 0x0F),
    ]);
    *continuity = continuity.wrapping_add(1) & 0x0F;
}

/// Splits one PES packet into transport packets on `pid`, padding the last
/// one with adaptation-field stuffing so every packet is exactly 188 bytes.
pub(crate) fn write_pes_packets(
    out: &mut Vec<u8>,
    pid: u16,
    continuity: &mut u8,
    pes: &[u8],
    first: FirstPacket,
) {
    out.reserve((pes.len() / PAYLOAD_CAPACITY + 2) * PACKET_SIZE);
    let mut rest = pes;
    let mut flags = first;
    let mut unit_start = true;
    loop {
        let fields_len = match (flags.pcr, flags.random_access) {
            (Some(_), _) => 2 + PCR_LEN,
            (None, true) => 2,
            (None, false) => 0,
        };
        let take = rest.len().min(PAYLOAD_CAPACITY - fields_len);
        let adaptation_len = PAYLOAD_CAPACITY - take;
        write_header(out, pid, unit_start, adaptation_len > 0, continuity);
        if adaptation_len > 0 {
            write_adaptation_field(out, adaptation_len, flags);
        }
        let (chunk, tail) = rest.split_at(take);
        out.extend_from_slice(chunk);
        rest = tail;
        if rest.is_empty() {
            return;
        }
        flags = FirstPacket::default();
        unit_start = false;
    }
}

/// Writes an adaptation field occupying exactly `total_len` bytes (including
/// its length byte); `total_len` must fit the requested fields.
fn write_adaptation_field(out: &mut Vec<u8>, total_len: usize, flags: FirstPacket) {
    let start = out.len();
    out.push((total_len - 1) as u8);
    if total_len == 1 {
        // A lone zero length byte is how a single byte of stuffing is encoded.
        return;
    }
    let mut flag_byte = 0;
    if flags.random_access {
        flag_byte |= FLAG_RANDOM_ACCESS;
    }
    if flags.pcr.is_some() {
        flag_byte |= FLAG_PCR;
    }
    out.push(flag_byte);
    if let Some(pcr) = flags.pcr {
        out.extend_from_slice(&encode_pcr(pcr));
    }
    out.resize(start + total_len, 0xFF);
}

/// Encodes a PCR with the given 33-bit base and extension 0.
fn encode_pcr(base: u64) -> [u8; PCR_LEN] {
    let base = base & CLOCK_MASK;
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        ((base & 1) as u8) << 7 | 0x7E, // 6 reserved bits, extension high bit 0
        0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::parse_packets;

    #[test]
    fn pcr_encoding() {
        assert_eq!(encode_pcr(0), [0, 0, 0, 0, 0x7E, 0]);
        assert_eq!(encode_pcr(CLOCK_MASK), [0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0]);
        assert_eq!(encode_pcr(1 << 33), encode_pcr(0));
    }

    #[test]
    fn every_size_fills_whole_packets() {
        let mut continuity = 0;
        for len in 0..800 {
            for first in [
                FirstPacket::default(),
                FirstPacket {
                    pcr: Some(len as u64 * 3000),
                    random_access: true,
                },
                FirstPacket {
                    pcr: None,
                    random_access: true,
                },
            ] {
                let pes: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut out = Vec::new();
                write_pes_packets(&mut out, 0x100, &mut continuity, &pes, first);
                let packets = parse_packets(&out);
                assert!(packets[0].unit_start);
                assert_eq!(packets[0].random_access, first.random_access);
                assert_eq!(packets[0].pcr, first.pcr);
                let payload: Vec<u8> = packets.iter().flat_map(|p| p.payload.clone()).collect();
                assert_eq!(payload, pes);
            }
        }
    }
}
