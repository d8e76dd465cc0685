//! The keyframe to decode, checked by our own parsers before OpenH264 sees a byte: the FLV
//! video header and codec, the AVC decoder configuration, the NAL lengths and the SPS with
//! its picture size. Cheap (a copy of the access unit), so a server can run it on any thread
//! and refuse bad input before it queues a decode.

use ferrocast_media::MediaError;
use ferrocast_media::avc::{self, NAL_SPS};
use ferrocast_media::flv::{VideoCodec, VideoPacket, parse_video, video_codec_name};
use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::{BitReader, decode_nal};

use crate::ThumbnailError;

/// One H.264 keyframe as an Annex-B access unit with its parameter sets inline, and what its
/// SPS declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyframe {
    annex_b: Vec<u8>,
    width: u32,
    height: u32,
    full_range: bool,
}

impl Keyframe {
    /// From FLV video tag bodies, as a live hub holds them: the stream's sequence header
    /// (legacy AVC or Enhanced RTMP `avc1`) and a keyframe. HEVC, AV1 and the legacy codecs
    /// are [`ThumbnailError::UnsupportedCodec`].
    pub fn from_flv(config_body: &[u8], keyframe_body: &[u8]) -> Result<Self, ThumbnailError> {
        let config = parse_video(config_body)?;
        check_codec(config.codec)?;
        if config.packet != VideoPacket::SequenceHeader {
            return Err(ThumbnailError::NotAKeyframe(
                "the configuration is not a sequence header",
            ));
        }
        let frame = parse_video(keyframe_body)?;
        check_codec(frame.codec)?;
        if frame.packet != VideoPacket::Nalu || !frame.is_keyframe() {
            return Err(ThumbnailError::NotAKeyframe("the frame is not a keyframe"));
        }
        Self::from_avc(config.data, frame.data)
    }

    /// From an AVCDecoderConfigurationRecord and one access unit of length-prefixed NAL
    /// units (AVCC, as FLV and MP4/CMAF carry it).
    pub fn from_avc(record: &[u8], access_unit: &[u8]) -> Result<Self, ThumbnailError> {
        let config = avc::parse(record)?;
        let mut own_sps = None;
        for nal in avc::NalUnits::new(access_unit, config.nal_length_size) {
            let nal = nal?;
            if avc::nal_type(nal) == NAL_SPS && own_sps.is_none() {
                own_sps = Some(nal);
            }
        }
        let sps = match own_sps {
            Some(sps) => sps,
            None => config
                .sps
                .first()
                .ok_or(MediaError::Invalid("avc config without sps"))?,
        };
        let declared = Declared::from_sps(sps)?;
        let mut annex_b = Vec::new();
        avc::to_annex_b(&config, access_unit, true, &mut annex_b)?;
        Ok(declared.with(annex_b))
    }

    /// From one Annex-B access unit that carries its own SPS and PPS, as an MPEG-TS segment
    /// has them before each keyframe.
    pub fn from_annex_b(access_unit: &[u8]) -> Result<Self, ThumbnailError> {
        let sps = annex_b_nals(access_unit)
            .find(|nal| avc::nal_type(nal) == NAL_SPS)
            .ok_or(MediaError::Invalid("annex-b access unit without sps"))?;
        let declared = Declared::from_sps(sps)?;
        Ok(declared.with(access_unit.to_vec()))
    }

    /// `(width, height)` as the SPS declares it, cropping applied: the size of the picture
    /// a player shows.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The access unit, Annex-B, parameter sets first.
    pub(crate) fn annex_b(&self) -> &[u8] {
        &self.annex_b
    }

    /// Whether samples use the full 0–255 range (JPEG's) rather than video's 16–235.
    pub(crate) fn full_range(&self) -> bool {
        self.full_range
    }
}

/// Only H.264 decodes here.
fn check_codec(codec: VideoCodec) -> Result<(), ThumbnailError> {
    match codec {
        VideoCodec::Avc | VideoCodec::Enhanced([b'a', b'v', b'c', b'1']) => Ok(()),
        other => Err(ThumbnailError::UnsupportedCodec(video_codec_name(&other))),
    }
}

/// What an SPS says about the picture.
struct Declared {
    width: u32,
    height: u32,
    full_range: bool,
}

impl Declared {
    fn from_sps(sps: &[u8]) -> Result<Self, ThumbnailError> {
        let rbsp = decode_nal(sps).map_err(|_| MediaError::Invalid("sps nal"))?;
        let parsed = SeqParameterSet::from_bits(BitReader::new(&rbsp[..]))
            .map_err(|_| MediaError::Invalid("sps"))?;
        let (width, height) = parsed
            .pixel_dimensions()
            .map_err(|_| MediaError::Invalid("sps picture size"))?;
        if width == 0 || height == 0 {
            return Err(MediaError::Invalid("sps picture size").into());
        }
        let full_range = parsed
            .vui_parameters
            .as_ref()
            .and_then(|vui| vui.video_signal_type.as_ref())
            .is_some_and(|signal| signal.video_full_range_flag);
        Ok(Self {
            width,
            height,
            full_range,
        })
    }

    fn with(self, annex_b: Vec<u8>) -> Keyframe {
        Keyframe {
            annex_b,
            width: self.width,
            height: self.height,
            full_range: self.full_range,
        }
    }
}

/// The NAL units of an Annex-B byte stream (3- or 4-byte start codes), without start codes.
fn annex_b_nals(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut index = 0;
    while index + 3 <= stream.len() {
        if stream[index..index + 3] == [0, 0, 1] {
            starts.push(index + 3);
            index += 3;
        } else {
            index += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&next| next - 3)
        .chain(std::iter::once(stream.len()))
        .collect();
    starts.into_iter().zip(ends).map(move |(start, end)| {
        // A 4-byte start code leaves its leading zero at the end of the previous NAL.
        let nal = &stream[start..end];
        let trailing_zeros = nal.iter().rev().take_while(|&&byte| byte == 0).count();
        &nal[..nal.len() - trailing_zeros]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_nals_split_on_both_start_code_lengths() {
        let stream = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4,
        ];
        let nals: Vec<&[u8]> = annex_b_nals(&stream).collect();
        assert_eq!(nals, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4]]);
    }

    #[test]
    fn other_codecs_are_named() {
        // An Enhanced RTMP HEVC sequence start: IsExHeader | keyframe, packet type 0.
        let hevc = [0x90, b'h', b'v', b'c', b'1', 1];
        let error = Keyframe::from_flv(&hevc, &hevc).expect_err("hevc");
        assert!(
            matches!(error, ThumbnailError::UnsupportedCodec(_)),
            "{error}"
        );
        assert!(error.to_string().contains("hevc"), "{error}");
        // VP6, a legacy codec id.
        let error = Keyframe::from_flv(&[0x14, 0], &[0x14, 0]).expect_err("vp6");
        assert!(
            matches!(error, ThumbnailError::UnsupportedCodec(_)),
            "{error}"
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for body in [
            &[][..],
            &[0x17],
            &[0x17, 0, 0, 0, 0, 1, 2],
            &[0x17, 0, 0, 0, 0xFF],
        ] {
            assert!(Keyframe::from_flv(body, body).is_err());
        }
        assert!(Keyframe::from_annex_b(&[0, 0, 1, 0x65, 1]).is_err());
    }
}
