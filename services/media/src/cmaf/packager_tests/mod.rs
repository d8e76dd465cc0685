//! The CMAF packager checked on the boxes it writes, decoded back with `mp4-atom`. This file
//! holds the fixtures (FLV tag bodies, a session runner) and the decoded views of its output.

use mp4_atom::{Decode, Ftyp, Mdat, Moof, Moov, TrunEntry};

use super::*;
use crate::hls::PackagerConfig;
use crate::test_support::{flv_aac as audio, flv_avc_sequence_header, flv_video as video};
use crate::{MediaError, flv};

mod delivery;
mod describe;
mod hevc;
mod parts;
mod properties;
mod tracks;

/// A real x264 SPS (High profile, 320x240) and its PPS.
const SPS: [u8; 23] = [
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xb2, 0x02, 0x83, 0xf6, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20,
    0x00, 0x00, 0x07, 0x81, 0xe2, 0x85, 0x49,
];
const PPS: [u8; 6] = [0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0];
/// AAC-LC, 44.1 kHz, stereo.
const AAC_SEQUENCE_HEADER: [u8; 4] = [0xAF, 0, 0x12, 0x10];
/// An MPEG-1 layer III frame header: 128 kb/s, 44.1 kHz, joint stereo.
const MP3_HEADER: [u8; 4] = [0xFF, 0xFB, 0x90, 0x64];

fn avc_sequence_header(sps: &[u8]) -> Vec<u8> {
    flv_avc_sequence_header(sps, &PPS)
}

fn mp3(size: usize) -> Vec<u8> {
    let mut body = vec![0x2F];
    body.extend_from_slice(&MP3_HEADER);
    body.extend((0..size).map(|i| i as u8));
    body
}

fn config(target_duration_ms: u64, expect_video: bool) -> Config {
    Config {
        segments: PackagerConfig {
            target_duration_ms,
            expect_video,
            max_segment_bytes: 64 << 20,
        },
        part_target_ms: 334,
    }
}

/// A packager fed FLV tag bodies (parsed first, as the origin does), collecting events.
struct Session {
    packager: Packager,
    events: Vec<Event>,
}

impl Session {
    fn new(config: Config) -> Self {
        Self {
            packager: Packager::new(config),
            events: Vec::new(),
        }
    }

    /// A session whose H.264 and AAC configurations have arrived.
    fn configured(target: u64, expect_video: bool) -> Self {
        let mut session = Self::new(config(target, expect_video));
        session.video(0, &avc_sequence_header(&SPS)).unwrap();
        session.audio(0, &AAC_SEQUENCE_HEADER).unwrap();
        session
    }

    fn video(&mut self, dts_ms: u64, body: &[u8]) -> Result<(), MediaError> {
        let tag = flv::parse_video(body)?;
        self.events.extend(self.packager.push_video(dts_ms, &tag)?);
        Ok(())
    }

    fn audio(&mut self, dts_ms: u64, body: &[u8]) -> Result<(), MediaError> {
        let tag = flv::parse_audio(body)?;
        self.events.extend(self.packager.push_audio(dts_ms, &tag)?);
        Ok(())
    }

    fn finish(mut self) -> Vec<Event> {
        self.events.extend(self.packager.finish().unwrap());
        self.events
    }
}

fn inits(events: &[Event]) -> Vec<&Init> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Init(init) => Some(init),
            _ => None,
        })
        .collect()
}

fn parts(events: &[Event], track: TrackKind) -> Vec<&Part> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Part(part) if part.track == track => Some(part),
            _ => None,
        })
        .collect()
}

fn segment_ends(events: &[Event]) -> Vec<&SegmentEnd> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SegmentEnd(end) => Some(end),
            _ => None,
        })
        .collect()
}

/// What a player reads from one part.
#[derive(Debug)]
struct Fragment {
    sequence: u32,
    track_id: u32,
    base_is_moof: bool,
    tfdt: u64,
    entries: Vec<TrunEntry>,
    payload: Vec<u8>,
}

impl Fragment {
    fn duration(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| u64::from(e.duration.unwrap()))
            .sum()
    }
}

/// Decodes a part, checking that the `trun` data offset points at the `mdat` payload and
/// that the sample sizes cover it exactly.
fn decode(data: &[u8]) -> Fragment {
    let mut rest = data;
    let moof = Moof::decode(&mut rest).unwrap();
    let moof_len = data.len() - rest.len();
    let mdat = Mdat::decode(&mut rest).unwrap();
    assert!(rest.is_empty(), "bytes after the mdat");
    assert_eq!(moof.traf.len(), 1);
    let traf = &moof.traf[0];
    assert_eq!(traf.trun.len(), 1);
    let trun = &traf.trun[0];
    assert_eq!(trun.data_offset, Some(moof_len as i32 + 8));
    let entries: Vec<TrunEntry> = trun.samples.iter().collect();
    let sizes: u64 = entries.iter().map(|e| u64::from(e.size.unwrap())).sum();
    assert_eq!(sizes, mdat.data.len() as u64);
    Fragment {
        sequence: moof.mfhd.sequence_number,
        track_id: traf.tfhd.track_id,
        base_is_moof: traf.tfhd.default_base_is_moof,
        tfdt: traf.tfdt.as_ref().unwrap().base_media_decode_time,
        entries,
        payload: mdat.data,
    }
}

/// Decodes an init segment.
fn decode_init(data: &[u8]) -> (Ftyp, Moov) {
    let mut rest = data;
    let ftyp = Ftyp::decode(&mut rest).unwrap();
    let moov = Moov::decode(&mut rest).unwrap();
    assert!(rest.is_empty());
    (ftyp, moov)
}
