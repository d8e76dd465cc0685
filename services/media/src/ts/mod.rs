//! MPEG-TS muxer for HLS segments: one program with an H.264 and/or an audio stream (AAC
//! in ADTS, or MPEG audio such as MP3), one PES packet per frame; and [`demux`], which reads
//! a segment's first video access unit back.

pub mod demux;
mod packet;
mod pes;
mod psi;

pub use packet::{CLOCK_MASK, PACKET_SIZE, SYNC_BYTE};
pub use pes::{STREAM_ID_AUDIO, STREAM_ID_VIDEO};
pub use psi::{PROGRAM_NUMBER, crc32_mpeg2};

use packet::FirstPacket;
use psi::{NO_PCR_PID, StreamEntry};

/// PID of the program association table.
pub const PAT_PID: u16 = 0;
/// PID of the program map table.
pub const PMT_PID: u16 = 0x1000;
/// PID of the H.264 elementary stream.
pub const VIDEO_PID: u16 = 0x100;
/// PID of the AAC elementary stream.
pub const AUDIO_PID: u16 = 0x101;
/// PMT stream_type of H.264 video.
pub const STREAM_TYPE_H264: u8 = 0x1B;
/// PMT stream_type of AAC audio with ADTS framing.
pub const STREAM_TYPE_AAC_ADTS: u8 = 0x0F;
/// PMT stream_type of MPEG-1 audio (ISO 11172-3: layers I to III at 32 to 48 kHz).
pub const STREAM_TYPE_MPEG1_AUDIO: u8 = 0x03;
/// PMT stream_type of MPEG-2 audio (ISO 13818-3: the half rates; MPEG 2.5's quarter rates
/// are carried the same way).
pub const STREAM_TYPE_MPEG2_AUDIO: u8 = 0x04;

/// How the audio elementary stream is coded: what the PMT declares for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AudioFormat {
    /// AAC, each frame behind an ADTS header.
    #[default]
    AacAdts,
    /// MPEG-1 audio frames (MP3 at 32 to 48 kHz).
    Mpeg1,
    /// MPEG-2 audio frames (MP3 at 8 to 24 kHz).
    Mpeg2,
}

impl AudioFormat {
    /// The PMT stream_type of this format.
    pub fn stream_type(self) -> u8 {
        match self {
            AudioFormat::AacAdts => STREAM_TYPE_AAC_ADTS,
            AudioFormat::Mpeg1 => STREAM_TYPE_MPEG1_AUDIO,
            AudioFormat::Mpeg2 => STREAM_TYPE_MPEG2_AUDIO,
        }
    }
}

/// Muxes frames into transport stream packets.
///
/// One muxer lives for a whole publish session so continuity counters run on
/// across segment boundaries, as players expect of consecutive segments.
#[derive(Debug, Clone)]
pub struct Muxer {
    has_video: bool,
    has_audio: bool,
    audio_format: AudioFormat,
    pmt_version: u8,
    pcr_lead_90k: u64,
    pat_continuity: u8,
    pmt_continuity: u8,
    video_continuity: u8,
    audio_continuity: u8,
    scratch: Vec<u8>,
}

impl Muxer {
    /// A muxer whose PMT declares the given streams.
    pub fn new(has_video: bool, has_audio: bool) -> Self {
        Self {
            has_video,
            has_audio,
            audio_format: AudioFormat::AacAdts,
            pmt_version: 0,
            pcr_lead_90k: 0,
            pat_continuity: 0,
            pmt_continuity: 0,
            video_continuity: 0,
            audio_continuity: 0,
            scratch: Vec::new(),
        }
    }

    /// Makes the PCR run `lead_90k` behind the DTS of the frame carrying it.
    ///
    /// By default PCR equals the DTS passed in. Callers that add a
    /// presentation delay to every PTS/DTS pass that delay here so the PCR
    /// reflects the real send time and decoders get that much buffering.
    pub fn with_pcr_lead(mut self, lead_90k: u64) -> Self {
        self.pcr_lead_90k = lead_90k;
        self
    }

    /// Changes the declared streams; the PMT version is bumped if they change.
    /// Takes effect at the next [`Muxer::write_tables`].
    pub fn set_streams(&mut self, has_video: bool, has_audio: bool) {
        if (has_video, has_audio) != (self.has_video, self.has_audio) {
            self.has_video = has_video;
            self.has_audio = has_audio;
            self.pmt_version = (self.pmt_version + 1) & 0x1F;
        }
    }

    /// Declares the audio stream as coded in `format` from the start (PMT version 0).
    pub fn with_audio_format(mut self, format: AudioFormat) -> Self {
        self.audio_format = format;
        self
    }

    /// Changes how the declared audio stream is coded (AAC by default); the PMT version is
    /// bumped if it changes. Takes effect at the next [`Muxer::write_tables`].
    pub fn set_audio_format(&mut self, format: AudioFormat) {
        if format != self.audio_format {
            self.audio_format = format;
            self.pmt_version = (self.pmt_version + 1) & 0x1F;
        }
    }

    /// Whether the PMT declares a video stream.
    pub fn has_video(&self) -> bool {
        self.has_video
    }

    /// Whether the PMT declares an audio stream.
    pub fn has_audio(&self) -> bool {
        self.has_audio
    }

    /// The PID whose adaptation fields carry the PCR.
    pub fn pcr_pid(&self) -> u16 {
        match (self.has_video, self.has_audio) {
            (true, _) => VIDEO_PID,
            (false, true) => AUDIO_PID,
            (false, false) => NO_PCR_PID,
        }
    }

    /// Writes one PAT and one PMT packet (start of every segment).
    pub fn write_tables(&mut self, out: &mut Vec<u8>) {
        psi::write_section_packet(
            out,
            PAT_PID,
            &mut self.pat_continuity,
            &psi::pat_section(PMT_PID),
        );
        let mut streams = Vec::with_capacity(2);
        if self.has_video {
            streams.push(StreamEntry {
                stream_type: STREAM_TYPE_H264,
                pid: VIDEO_PID,
            });
        }
        if self.has_audio {
            streams.push(StreamEntry {
                stream_type: self.audio_format.stream_type(),
                pid: AUDIO_PID,
            });
        }
        let pmt = psi::pmt_section(self.pcr_pid(), self.pmt_version, &streams);
        psi::write_section_packet(out, PMT_PID, &mut self.pmt_continuity, &pmt);
    }

    /// Rewrites `tables`, the PAT and PMT packets that [`Muxer::write_tables`] wrote last (at
    /// the start of the segment being written), with the streams declared now and their
    /// original continuity counters: a track whose format is learnt after the segment began
    /// (an MP3 track, known from its first frame) is declared in that segment too. Anything
    /// but two packets is left alone.
    pub fn rewrite_tables(&mut self, tables: &mut [u8]) {
        if tables.len() != 2 * PACKET_SIZE {
            return;
        }
        self.pat_continuity = self.pat_continuity.wrapping_sub(1) & 0x0F;
        self.pmt_continuity = self.pmt_continuity.wrapping_sub(1) & 0x0F;
        let mut fresh = Vec::with_capacity(tables.len());
        self.write_tables(&mut fresh);
        tables.copy_from_slice(&fresh);
    }

    /// Writes one Annex-B access unit as a video PES (90 kHz timestamps,
    /// taken mod 2^33).
    pub fn write_video(
        &mut self,
        pts: u64,
        dts: u64,
        keyframe: bool,
        annex_b: &[u8],
        out: &mut Vec<u8>,
    ) {
        self.scratch.clear();
        pes::write_header(
            &mut self.scratch,
            STREAM_ID_VIDEO,
            pts,
            Some(dts),
            annex_b.len(),
            false,
        );
        self.scratch.extend_from_slice(annex_b);
        let first = FirstPacket {
            pcr: self.pcr_for(VIDEO_PID, dts),
            random_access: keyframe,
        };
        packet::write_pes_packets(
            out,
            VIDEO_PID,
            &mut self.video_continuity,
            &self.scratch,
            first,
        );
    }

    /// Writes one audio frame (an ADTS frame, or MPEG audio frames) as an audio PES (90 kHz
    /// PTS, taken mod 2^33).
    pub fn write_audio(&mut self, pts: u64, adts: &[u8], out: &mut Vec<u8>) {
        self.scratch.clear();
        pes::write_header(
            &mut self.scratch,
            STREAM_ID_AUDIO,
            pts,
            None,
            adts.len(),
            true,
        );
        self.scratch.extend_from_slice(adts);
        let first = FirstPacket {
            pcr: self.pcr_for(AUDIO_PID, pts),
            random_access: false,
        };
        packet::write_pes_packets(
            out,
            AUDIO_PID,
            &mut self.audio_continuity,
            &self.scratch,
            first,
        );
    }

    fn pcr_for(&self, pid: u16, decode_time: u64) -> Option<u64> {
        (pid == self.pcr_pid()).then(|| decode_time.wrapping_sub(self.pcr_lead_90k) & CLOCK_MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ContinuityChecker, parse_packets, pes_units, verify_tables};

    #[test]
    fn tables_verify_and_list_streams() {
        let mut muxer = Muxer::new(true, true);
        let mut out = Vec::new();
        muxer.write_tables(&mut out);
        assert_eq!(out.len(), 2 * PACKET_SIZE);
        let tables = verify_tables(&out);
        assert_eq!(tables.pcr_pid, Some(VIDEO_PID));
        assert_eq!(
            tables.streams,
            vec![
                (STREAM_TYPE_H264, VIDEO_PID),
                (STREAM_TYPE_AAC_ADTS, AUDIO_PID)
            ]
        );

        let mut audio_only = Muxer::new(false, true);
        let mut out = Vec::new();
        audio_only.write_tables(&mut out);
        let tables = verify_tables(&out);
        assert_eq!(tables.pcr_pid, Some(AUDIO_PID));
        assert_eq!(tables.streams, vec![(STREAM_TYPE_AAC_ADTS, AUDIO_PID)]);
    }

    #[test]
    fn mpeg_audio_is_declared_by_its_version() {
        let mut muxer = Muxer::new(false, true).with_audio_format(AudioFormat::Mpeg1);
        let mut out = Vec::new();
        muxer.write_tables(&mut out);
        let tables = verify_tables(&out);
        assert_eq!(tables.streams, vec![(STREAM_TYPE_MPEG1_AUDIO, AUDIO_PID)]);
        assert_eq!(tables.pmt_version, Some(0));
        muxer.set_audio_format(AudioFormat::Mpeg1);
        muxer.set_audio_format(AudioFormat::AacAdts);
        muxer.set_audio_format(AudioFormat::Mpeg2);
        out.clear();
        muxer.write_tables(&mut out);
        let tables = verify_tables(&out);
        assert_eq!(tables.streams, vec![(STREAM_TYPE_MPEG2_AUDIO, AUDIO_PID)]);
        assert_eq!(tables.pmt_version, Some(2));
    }

    #[test]
    fn tables_rewritten_in_place_keep_their_continuity() {
        let mut muxer = Muxer::new(true, false);
        let mut out = Vec::new();
        muxer.write_tables(&mut out);
        muxer.write_video(0, 0, true, &[0, 0, 0, 1, 0x65], &mut out);
        muxer.set_streams(true, true);
        muxer.rewrite_tables(&mut out[..2 * PACKET_SIZE]);
        muxer.write_tables(&mut out);
        let mut checker = ContinuityChecker::default();
        checker.check(&out);
        let tables = verify_tables(&out[..2 * PACKET_SIZE]);
        assert_eq!(tables.streams.len(), 2);
        assert_eq!(tables.pmt_version, Some(1));
    }

    #[test]
    fn set_streams_bumps_pmt_version() {
        let mut muxer = Muxer::new(true, true);
        muxer.set_streams(true, true);
        let mut out = Vec::new();
        muxer.write_tables(&mut out);
        assert_eq!(verify_tables(&out).pmt_version, Some(0));
        muxer.set_streams(false, true);
        out.clear();
        muxer.write_tables(&mut out);
        assert_eq!(verify_tables(&out).pmt_version, Some(1));
        assert_eq!(muxer.pcr_pid(), AUDIO_PID);
    }

    #[test]
    fn continuity_and_timestamps_across_many_writes() {
        let mut muxer = Muxer::new(true, true).with_pcr_lead(63_000);
        let mut checker = ContinuityChecker::default();
        let mut all = Vec::new();
        for segment in 0..5u64 {
            let mut out = Vec::new();
            muxer.write_tables(&mut out);
            for frame in 0..40u64 {
                let dts = CLOCK_MASK - 200_000 + (segment * 40 + frame) * 3_000;
                let pts = dts + 6_000 * (frame % 3);
                let data = vec![frame as u8; (frame as usize * 97) % 3_000];
                muxer.write_video(pts, dts, frame == 0, &data, &mut out);
                muxer.write_audio(dts, &data[..data.len() / 4], &mut out);
            }
            checker.check(&out);
            all.push(out);
        }
        let joined: Vec<u8> = all.concat();
        let units = pes_units(&joined);
        let video: Vec<_> = units.iter().filter(|u| u.pid == VIDEO_PID).collect();
        assert_eq!(video.len(), 200);
        for (i, unit) in video.iter().enumerate() {
            let frame = i as u64 % 40;
            let dts = (CLOCK_MASK - 200_000 + i as u64 * 3_000) & CLOCK_MASK;
            let pts = (CLOCK_MASK - 200_000 + i as u64 * 3_000 + 6_000 * (frame % 3)) & CLOCK_MASK;
            assert_eq!(unit.pes.pts, Some(pts));
            assert_eq!(unit.pes.dts, if pts == dts { None } else { Some(dts) });
            assert_eq!(unit.random_access, frame == 0);
            assert_eq!(unit.pcr, Some(dts.wrapping_sub(63_000) & CLOCK_MASK));
            assert_eq!(unit.pes.payload.len(), (frame as usize * 97) % 3_000);
        }
        for unit in units.iter().filter(|u| u.pid == AUDIO_PID) {
            assert_eq!(unit.pcr, None);
            assert_eq!(unit.pes.dts, None);
            assert_eq!(
                usize::from(unit.pes.packet_length),
                8 + unit.pes.payload.len()
            );
        }
        assert!(parse_packets(&joined).iter().all(|p| p.pid != 0x1FFF));
    }
}
