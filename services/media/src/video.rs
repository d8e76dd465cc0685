//! The video decoder configuration both packagers follow (ADR 19): H.264 from a legacy AVC
//! sequence header, or HEVC or AV1 from an Enhanced RTMP `hvc1` or `av01` sequence start. Everything the cut
//! rules need from a frame (is it valid, is it a keyframe, what does it cost) is computed
//! here once, so the MPEG-TS and the CMAF packager see the same frames alike, whether or
//! not they write them.

use crate::cuts;
use crate::flv::VideoCodec;
use crate::{MediaError, av1, avc, hevc};

/// A video codec the packagers know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// H.264, legacy FLV codec id 7.
    Avc,
    /// HEVC, Enhanced RTMP FourCC `hvc1`.
    Hevc,
    /// AV1, Enhanced RTMP FourCC `av01`.
    Av1,
}

impl Codec {
    /// The codec of a tag, or `None` for one no packager handles.
    pub(crate) fn of(codec: &VideoCodec) -> Option<Self> {
        match codec {
            VideoCodec::Avc => Some(Codec::Avc),
            VideoCodec::Enhanced(fourcc) => match fourcc {
                b"hvc1" => Some(Codec::Hevc),
                b"av01" => Some(Codec::Av1),
                _ => None,
            },
            VideoCodec::Other(_) => None,
        }
    }
}

/// A parsed video decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Config {
    /// From an AVCDecoderConfigurationRecord.
    Avc(avc::DecoderConfig),
    /// From an HEVCDecoderConfigurationRecord.
    Hevc(hevc::DecoderConfig),
    /// From an AV1CodecConfigurationRecord.
    Av1(av1::DecoderConfig),
}

impl Config {
    /// Parses the configuration record of `codec`.
    pub(crate) fn parse(codec: Codec, record: &[u8]) -> Result<Self, MediaError> {
        Ok(match codec {
            Codec::Avc => Config::Avc(avc::parse(record)?),
            Codec::Hevc => Config::Hevc(hevc::parse(record)?),
            Codec::Av1 => Config::Av1(av1::parse(record)?),
        })
    }

    /// The codec configured.
    pub(crate) fn codec(&self) -> Codec {
        match self {
            Config::Avc(_) => Codec::Avc,
            Config::Hevc(_) => Codec::Hevc,
            Config::Av1(_) => Codec::Av1,
        }
    }

    /// Refuses an access unit with a NAL length (an OBU size, for AV1) past its end, as
    /// every packager does.
    pub(crate) fn check(&self, access_unit: &[u8]) -> Result<(), MediaError> {
        let length_size = match self {
            Config::Avc(config) => config.nal_length_size,
            Config::Hevc(config) => config.nal_length_size(),
            Config::Av1(_) => return av1::check(access_unit),
        };
        for nal in avc::NalUnits::new(access_unit, length_size) {
            nal?;
        }
        Ok(())
    }

    /// Whether the access unit is a random access point, from the bitstream (an IDR for
    /// H.264, an IRAP picture for HEVC, a shown key frame for AV1) rather than the FLV flag.
    pub(crate) fn is_keyframe(&self, access_unit: &[u8]) -> bool {
        match self {
            Config::Avc(config) => avc::contains_idr(config, access_unit),
            Config::Hevc(config) => hevc::contains_irap(config, access_unit),
            Config::Av1(config) => av1::is_keyframe(config, access_unit),
        }
    }

    /// The frame's cost for the cut rules ([`cuts::frame_cost`]): a keyframe may carry the
    /// parameter sets again.
    pub(crate) fn frame_cost(&self, access_unit: &[u8], keyframe: bool) -> usize {
        let repeated = if keyframe {
            self.parameter_sets_len()
        } else {
            0
        };
        cuts::frame_cost(access_unit.len(), repeated)
    }

    /// Bytes of parameter sets a muxer may repeat in front of a keyframe, each with a
    /// 4-byte start code or length prefix (AV1: the configuration OBUs).
    fn parameter_sets_len(&self) -> usize {
        match self {
            Config::Avc(config) => cuts::config_len(config),
            Config::Hevc(config) => config.parameter_sets().map(|set| set.len() + 4).sum(),
            Config::Av1(config) => config.config_obus_len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_the_packagers_know() {
        assert_eq!(Codec::of(&VideoCodec::Avc), Some(Codec::Avc));
        assert_eq!(
            Codec::of(&VideoCodec::Enhanced(*b"hvc1")),
            Some(Codec::Hevc)
        );
        assert_eq!(Codec::of(&VideoCodec::Enhanced(*b"av01")), Some(Codec::Av1));
        assert_eq!(Codec::of(&VideoCodec::Enhanced(*b"vp09")), None);
        assert_eq!(Codec::of(&VideoCodec::Other(12)), None);
    }
}
