//! Test-only helpers: transport stream demuxing to check muxer output, and the synthetic FLV
//! tag bodies the packagers' tests feed in.

use std::collections::HashMap;

use crate::ts::{PACKET_SIZE, PAT_PID, PMT_PID, SYNC_BYTE, crc32_mpeg2};

/// One parsed transport packet.
#[derive(Debug, Clone)]
pub(crate) struct Packet {
    pub pid: u16,
    pub unit_start: bool,
    pub continuity: u8,
    pub random_access: bool,
    pub pcr: Option<u64>,
    pub payload: Vec<u8>,
}

/// Splits `data` into packets, asserting size, sync byte and field sanity.
pub(crate) fn parse_packets(data: &[u8]) -> Vec<Packet> {
    assert_eq!(data.len() % PACKET_SIZE, 0, "not a whole number of packets");
    data.chunks(PACKET_SIZE)
        .map(|p| {
            assert_eq!(p[0], SYNC_BYTE);
            let pid = (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
            let control = (p[3] >> 4) & 0x03;
            assert!(control & 0x01 != 0, "packet without payload");
            let mut offset = 4;
            let mut random_access = false;
            let mut pcr = None;
            if control & 0x02 != 0 {
                let len = usize::from(p[4]);
                assert!(len <= 183);
                if len > 0 {
                    let flags = p[5];
                    random_access = flags & 0x40 != 0;
                    if flags & 0x10 != 0 {
                        let b = &p[6..12];
                        let base = (u64::from(b[0]) << 25)
                            | (u64::from(b[1]) << 17)
                            | (u64::from(b[2]) << 9)
                            | (u64::from(b[3]) << 1)
                            | u64::from(b[4] >> 7);
                        pcr = Some(base);
                    }
                }
                offset += 1 + len;
            }
            Packet {
                pid,
                unit_start: p[1] & 0x40 != 0,
                continuity: p[3] & 0x0F,
                random_access,
                pcr,
                payload: p[offset..].to_vec(),
            }
        })
        .collect()
}

/// Tracks continuity counters per PID across calls.
#[derive(Debug, Default)]
pub(crate) struct ContinuityChecker {
    last: HashMap<u16, u8>,
}

impl ContinuityChecker {
    pub(crate) fn check(&mut self, data: &[u8]) {
        for packet in parse_packets(data) {
            if let Some(previous) = self.last.get(&packet.pid) {
                assert_eq!(
                    packet.continuity,
                    (previous + 1) & 0x0F,
                    "pid {:#x} discontinuous",
                    packet.pid
                );
            }
            self.last.insert(packet.pid, packet.continuity);
        }
    }
}

/// A parsed PES packet.
#[derive(Debug, Clone)]
pub(crate) struct PesHeader {
    pub stream_id: u8,
    pub packet_length: u16,
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub payload: Vec<u8>,
}

fn timestamp(b: &[u8]) -> u64 {
    assert_eq!(b[0] & 1, 1);
    assert_eq!(b[2] & 1, 1);
    assert_eq!(b[4] & 1, 1);
    (u64::from(b[0] >> 1 & 0x07) << 30)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | u64::from(b[4] >> 1)
}

pub(crate) fn parse_pes(data: &[u8]) -> PesHeader {
    assert_eq!(&data[..3], &[0, 0, 1]);
    let packet_length = u16::from_be_bytes([data[4], data[5]]);
    let flags = data[7];
    let header_len = usize::from(data[8]);
    let (pts, dts) = match flags >> 6 {
        0b10 => {
            assert_eq!(data[9] >> 4, 0x2);
            (Some(timestamp(&data[9..14])), None)
        }
        0b11 => {
            assert_eq!(data[9] >> 4, 0x3);
            assert_eq!(data[14] >> 4, 0x1);
            (
                Some(timestamp(&data[9..14])),
                Some(timestamp(&data[14..19])),
            )
        }
        _ => (None, None),
    };
    let payload = data[9 + header_len..].to_vec();
    if packet_length != 0 {
        assert_eq!(usize::from(packet_length), data.len() - 6);
    }
    PesHeader {
        stream_id: data[3],
        packet_length,
        pts,
        dts,
        payload,
    }
}

/// A reassembled PES packet with the adaptation flags of its first packet.
#[derive(Debug, Clone)]
pub(crate) struct PesUnit {
    pub pid: u16,
    pub random_access: bool,
    pub pcr: Option<u64>,
    pub pes: PesHeader,
}

/// Reassembles every elementary stream PES packet in `data`, in the order
/// their first packets appear.
pub(crate) fn pes_units(data: &[u8]) -> Vec<PesUnit> {
    let mut raw: Vec<(u16, bool, Option<u64>, Vec<u8>)> = Vec::new();
    let mut open: HashMap<u16, usize> = HashMap::new();
    for packet in parse_packets(data) {
        if packet.pid == PAT_PID || packet.pid == PMT_PID {
            continue;
        }
        if packet.unit_start {
            open.insert(packet.pid, raw.len());
            raw.push((packet.pid, packet.random_access, packet.pcr, packet.payload));
        } else {
            let index = open.get(&packet.pid).expect("continuation without start");
            raw[*index].3.extend(packet.payload);
        }
    }
    raw.into_iter()
        .map(|(pid, random_access, pcr, bytes)| PesUnit {
            pid,
            random_access,
            pcr,
            pes: parse_pes(&bytes),
        })
        .collect()
}

/// What the PAT/PMT packets in a buffer say.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub pcr_pid: Option<u16>,
    pub pmt_version: Option<u8>,
    pub streams: Vec<(u8, u16)>,
}

/// Checks the CRC of every PAT/PMT section and returns the last PMT's content.
pub(crate) fn verify_tables(data: &[u8]) -> Tables {
    let mut tables = Tables::default();
    for packet in parse_packets(data) {
        if packet.pid != PAT_PID && packet.pid != PMT_PID {
            continue;
        }
        assert!(packet.unit_start);
        let pointer = usize::from(packet.payload[0]);
        let section = &packet.payload[1 + pointer..];
        let len = (usize::from(section[1] & 0x0F) << 8) | usize::from(section[2]);
        let section = &section[..3 + len];
        assert_eq!(crc32_mpeg2(section), 0, "bad crc on pid {:#x}", packet.pid);
        if packet.pid == PAT_PID {
            assert_eq!(section[0], 0);
            let pmt_pid = (u16::from(section[10] & 0x1F) << 8) | u16::from(section[11]);
            assert_eq!(pmt_pid, PMT_PID);
            continue;
        }
        assert_eq!(section[0], 2);
        tables.pmt_version = Some((section[5] >> 1) & 0x1F);
        tables.pcr_pid = Some((u16::from(section[8] & 0x1F) << 8) | u16::from(section[9]));
        tables.streams.clear();
        let mut entries = &section[12..section.len() - 4];
        while !entries.is_empty() {
            let pid = (u16::from(entries[1] & 0x1F) << 8) | u16::from(entries[2]);
            tables.streams.push((entries[0], pid));
            let info_len = (usize::from(entries[3] & 0x0F) << 8) | usize::from(entries[4]);
            entries = &entries[5 + info_len..];
        }
    }
    tables
}

/// NAL unit types of an Annex-B byte stream, in order.
pub(crate) fn nal_types(annex_b: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 3 < annex_b.len() {
        if annex_b[i..i + 3] == [0, 0, 1] {
            types.push(annex_b[i + 3] & 0x1F);
            i += 3;
        } else {
            i += 1;
        }
    }
    types
}

/// An FLV AVC sequence header (AVCDecoderConfigurationRecord) with one SPS and one PPS.
pub(crate) fn flv_avc_sequence_header(sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let mut body = vec![0x17, 0, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xFF, 0xE1];
    body.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    body.extend_from_slice(sps);
    body.push(1);
    body.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    body.extend_from_slice(pps);
    body
}

/// An FLV AVC frame: one IDR (keyframe) or non-IDR slice NAL unit of `size` + 1 bytes, with
/// composition time `cts`.
pub(crate) fn flv_video(keyframe: bool, cts: i32, size: usize) -> Vec<u8> {
    let nal_header = if keyframe { 0x65 } else { 0x41 };
    let mut body = vec![if keyframe { 0x17 } else { 0x27 }, 1];
    body.extend_from_slice(&cts.to_be_bytes()[1..]);
    body.extend_from_slice(&((size + 1) as u32).to_be_bytes());
    body.push(nal_header);
    body.extend((0..size).map(|i| (i % 251) as u8 | 1));
    body
}

/// An FLV raw AAC frame of `size` bytes.
pub(crate) fn flv_aac(size: usize) -> Vec<u8> {
    let mut body = vec![0xAF, 1];
    body.extend((0..size).map(|i| i as u8));
    body
}

/// x265's VPS, SPS and PPS for a 160x120 Main-profile clip (level 1, `level_idc` 30), in hex.
pub(crate) const HEVC_VPS: &str = "40010c01ffff01600000030090000003000003001e928090";
/// See [`HEVC_VPS`].
pub(crate) const HEVC_SPS: &str =
    "42010101600000030090000003000003001ea01420796592a4932bc05a020000030002000003001410";
/// See [`HEVC_VPS`].
pub(crate) const HEVC_PPS: &str = "4401c172b46240";
/// The fixed fields of x265's HEVCDecoderConfigurationRecord (4-byte NAL lengths).
pub(crate) const HEVC_RECORD_HEADER: &str = "0101600000009000000000001ef000fcfdf8f800000f";

/// Bytes from hex text.
pub(crate) fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect()
}

/// An HEVCDecoderConfigurationRecord with the fixed fields `header` (hex) and one array
/// per NAL unit (hex).
pub(crate) fn hevc_record(header: &str, nals: &[&str]) -> Vec<u8> {
    let mut record = hex(header);
    record.push(u8::try_from(nals.len()).expect("few arrays"));
    for nal in nals {
        let nal = hex(nal);
        record.push(0x80 | crate::hevc::nal_type(&nal));
        record.extend_from_slice(&1u16.to_be_bytes());
        record.extend_from_slice(&u16::try_from(nal.len()).expect("short nal").to_be_bytes());
        record.extend_from_slice(&nal);
    }
    record
}

/// An Enhanced RTMP `hvc1` SequenceStart carrying x265's 160x120 record, or the same with
/// `level_idc` changed to `level` (a reconfiguration).
pub(crate) fn flv_hevc_sequence_start(level: u8) -> Vec<u8> {
    let mut record = hevc_record(HEVC_RECORD_HEADER, &[HEVC_VPS, HEVC_SPS, HEVC_PPS]);
    record[12] = level;
    let mut body = b"\x90hvc1".to_vec();
    body.extend_from_slice(&record);
    body
}

/// An Enhanced RTMP `hvc1` CodedFrames body: one IDR_W_RADL (keyframe) or TRAIL_R slice of
/// `size` + 2 bytes, with composition time `cts`, flagged `flv_key` in the FLV header.
pub(crate) fn flv_hevc(keyframe: bool, flv_key: bool, cts: i32, size: usize) -> Vec<u8> {
    let nal_header: [u8; 2] = if keyframe { [19 << 1, 1] } else { [1 << 1, 1] };
    let mut body = vec![if flv_key { 0x91 } else { 0xA1 }];
    body.extend_from_slice(b"hvc1");
    body.extend_from_slice(&cts.to_be_bytes()[1..]);
    body.extend_from_slice(&((size + 2) as u32).to_be_bytes());
    body.extend_from_slice(&nal_header);
    body.extend((0..size).map(|i| (i % 251) as u8 | 1));
    body
}

/// libaom's AV1CodecConfigurationRecord for a 170x98 clip (profile 0, level 2.0, 8-bit), hex.
pub(crate) const AV1_RECORD: &str = "81000c000a0a00000003b54e136be401";

/// An Enhanced RTMP `av01` SequenceStart carrying [`AV1_RECORD`].
pub(crate) fn flv_av1_sequence_start() -> Vec<u8> {
    let mut body = b"\x90av01".to_vec();
    body.extend_from_slice(&hex(AV1_RECORD));
    body
}

/// An Enhanced RTMP `av01` CodedFrames body: one frame OBU of `size` + 1 bytes whose header
/// starts a shown key frame or an inter frame.
pub(crate) fn flv_av1(keyframe: bool, size: usize) -> Vec<u8> {
    let mut body = vec![if keyframe { 0x91 } else { 0xA1 }];
    body.extend_from_slice(b"av01");
    body.push(0x32); // OBU_FRAME with a size field
    let mut len = size + 1;
    loop {
        let byte = (len & 0x7F) as u8;
        len >>= 7;
        if len == 0 {
            body.push(byte);
            break;
        }
        body.push(byte | 0x80);
    }
    // show_existing_frame 0, frame_type KEY_FRAME (0) or INTER_FRAME (1), show_frame 1.
    body.push(if keyframe { 0x10 } else { 0x30 });
    body.extend((0..size).map(|i| (i % 251) as u8));
    body
}
