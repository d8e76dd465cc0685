//! Init segments (`ftyp` + `moov` with `mvex`/`trex`) of single-track CMAF tracks: H.264
//! video (`avc1` + `avcC`), HEVC video (`hvc1` + `hvcC`), AV1 video (`av01` + `av1C`), AAC
//! audio (`mp4a` + `esds` with the AudioSpecificConfig) and
//! MP3 audio (`mp4a` + `esds` with object type 0x6B/0x69).

use bytes::Bytes;
use mp4_atom::{
    Atom, Audio, Av01, Avc1, Avcc, Codec, Dinf, Dref, DrefEntry, Encode, Esds, FixedPoint, Ftyp,
    Hdlr, Hvc1, Mdhd, Mdia, Minf, Moov, Mp4a, Mvex, Mvhd, Smhd, Stbl, Stco, Stsd, Tkhd, Trak, Trex,
    Url, Visual, Vmhd, esds,
};

use super::codecs::{
    OBJECT_TYPE_MPEG4_AUDIO, aac_codec_string, avc_codec_string, mpeg_audio_codec_string,
};
use super::{Init, TrackKind, VIDEO_TIMESCALE};
use crate::aac::AudioSpecificConfig;
use crate::avc::{DecoderConfig, NAL_SPS};
use crate::video::Config as VideoConfig;
use crate::{BoxError, MediaError, av1, hevc, mpeg_audio};

/// streamType of audio in an `esds` DecoderConfigDescriptor.
const STREAM_TYPE_AUDIO: u8 = 0x05;

/// Maps a box encoder error to [`MediaError::Encode`].
pub(super) fn encode_error(what: &'static str) -> impl Fn(mp4_atom::Error) -> MediaError {
    move |source| MediaError::Encode {
        what,
        source: BoxError::new(source),
    }
}

/// The init segment of a video track, from its decoder configuration record as sent.
pub(super) fn video(config: &VideoConfig, record: &[u8], version: u32) -> Result<Init, MediaError> {
    match config {
        VideoConfig::Avc(avc) => self::avc(avc, record, version),
        VideoConfig::Hevc(hevc) => self::hevc(hevc, version),
        VideoConfig::Av1(av1) => self::av1(av1, version),
    }
}

/// The init segment of an AV1 track: `av01` with the record as decoded.
fn av1(config: &av1::DecoderConfig, version: u32) -> Result<Init, MediaError> {
    let dimensions = config.dimensions();
    let (width, height) = (clamp_u16(dimensions.0), clamp_u16(dimensions.1));
    let entry = Av01 {
        visual: visual(width, height),
        av1c: config.record().clone(),
        ..Default::default()
    };
    let data = video_init(entry.into(), width, height)?;
    Ok(Init {
        track: TrackKind::Video,
        version,
        codec: config.codec_string(),
        timescale: VIDEO_TIMESCALE,
        dimensions: Some(dimensions),
        data,
    })
}

/// The init segment of an HEVC track: `hvc1` (parameter sets only in the `hvcC`, as HLS
/// asks) with the record as decoded.
fn hevc(config: &hevc::DecoderConfig, version: u32) -> Result<Init, MediaError> {
    let dimensions = config.dimensions();
    let (width, height) = dimensions.unwrap_or((0, 0));
    let (width, height) = (clamp_u16(width), clamp_u16(height));
    let entry = Hvc1 {
        visual: visual(width, height),
        hvcc: config.record().clone(),
        ..Default::default()
    };
    let data = video_init(entry.into(), width, height)?;
    Ok(Init {
        track: TrackKind::Video,
        version,
        codec: config.codec_string(),
        timescale: VIDEO_TIMESCALE,
        dimensions,
        data,
    })
}

/// The init segment of an H.264 track, from the AVCDecoderConfigurationRecord as sent.
fn avc(config: &DecoderConfig, record: &[u8], version: u32) -> Result<Init, MediaError> {
    // Decode the record as sent, so its high-profile extension (chroma format, bit depth)
    // survives; fall back to the fields we parsed ourselves.
    let avcc = Avcc::decode_body(&mut &record[..]).unwrap_or_else(|_| Avcc {
        configuration_version: 1,
        avc_profile_indication: config.profile,
        profile_compatibility: config.compatibility,
        avc_level_indication: config.level,
        length_size: config.nal_length_size,
        sequence_parameter_sets: config.sps.iter().map(|s| s.to_vec()).collect(),
        picture_parameter_sets: config.pps.iter().map(|s| s.to_vec()).collect(),
        ext: None,
    });
    let dimensions = config.sps.first().and_then(|sps| sps_dimensions(sps));
    let (width, height) = dimensions.unwrap_or((0, 0));
    let (width, height) = (clamp_u16(width), clamp_u16(height));
    let entry = Avc1 {
        visual: visual(width, height),
        avcc,
        ..Default::default()
    };
    let data = video_init(entry.into(), width, height)?;
    Ok(Init {
        track: TrackKind::Video,
        version,
        codec: avc_codec_string(config.profile, config.compatibility, config.level),
        timescale: VIDEO_TIMESCALE,
        dimensions,
        data,
    })
}

fn visual(width: u16, height: u16) -> Visual {
    Visual {
        data_reference_index: 1,
        width,
        height,
        ..Default::default()
    }
}

/// A video track's `ftyp` + `moov` around its sample entry.
fn video_init(entry: Codec, width: u16, height: u16) -> Result<Bytes, MediaError> {
    let tkhd = Tkhd {
        width: FixedPoint::from(width),
        height: FixedPoint::from(height),
        ..track_header(TrackKind::Video)
    };
    let minf = Minf {
        vmhd: Some(Vmhd::default()),
        ..media_info(entry)
    };
    encode(TrackKind::Video, tkhd, VIDEO_TIMESCALE, b"vide", minf)
}

/// The init segment of an AAC track, from the AudioSpecificConfig as sent.
pub(super) fn aac(
    config: &AudioSpecificConfig,
    asc: &[u8],
    version: u32,
) -> Result<Init, MediaError> {
    // Channel configuration 0 means "in the program config element": say stereo here;
    // decoders read the real layout from the AudioSpecificConfig.
    let channels = if config.channels == 0 {
        2
    } else {
        config.channels
    };
    let specific = esds::DecoderSpecific {
        profile: config.object_type,
        freq_index: config.sampling_index,
        chan_conf: config.channels,
        raw: asc.to_vec(),
    };
    let data = audio_init(
        OBJECT_TYPE_MPEG4_AUDIO,
        Some(specific),
        config.sample_rate,
        channels,
    )?;
    Ok(Init {
        track: TrackKind::Audio,
        version,
        codec: aac_codec_string(config.object_type),
        timescale: config.sample_rate,
        dimensions: None,
        data,
    })
}

/// The init segment of an MP3 track, from its first frame's header.
pub(super) fn mp3(header: &mpeg_audio::Header, version: u32) -> Result<Init, MediaError> {
    let object_type = header.object_type_indication();
    let data = audio_init(object_type, None, header.sample_rate, header.channels)?;
    Ok(Init {
        track: TrackKind::Audio,
        version,
        codec: mpeg_audio_codec_string(object_type),
        timescale: header.sample_rate,
        dimensions: None,
        data,
    })
}

fn audio_init(
    object_type_indication: u8,
    dec_specific: Option<esds::DecoderSpecific>,
    sample_rate: u32,
    channels: u8,
) -> Result<Bytes, MediaError> {
    let esds = Esds {
        es_desc: esds::EsDescriptor {
            es_id: 2,
            dec_config: esds::DecoderConfig {
                object_type_indication,
                stream_type: STREAM_TYPE_AUDIO,
                dec_specific,
                ..Default::default()
            },
            ..Default::default()
        },
    };
    let entry = Mp4a {
        audio: Audio {
            data_reference_index: 1,
            channel_count: u16::from(channels),
            sample_size: 16,
            // A 16.16 field: rates above 65535 Hz do not fit and are written as 0; the
            // timescale and the decoder configuration carry the real rate.
            sample_rate: FixedPoint::from(u16::try_from(sample_rate).unwrap_or(0)),
        },
        esds,
        btrt: None,
        taic: None,
    };
    let tkhd = Tkhd {
        volume: FixedPoint::from(1u8),
        ..track_header(TrackKind::Audio)
    };
    let minf = Minf {
        smhd: Some(Smhd::default()),
        ..media_info(entry.into())
    };
    encode(TrackKind::Audio, tkhd, sample_rate, b"soun", minf)
}

fn track_id(track: TrackKind) -> u32 {
    match track {
        TrackKind::Video => 1,
        TrackKind::Audio => 2,
    }
}

fn track_header(track: TrackKind) -> Tkhd {
    Tkhd {
        track_id: track_id(track),
        enabled: true,
        in_movie: true,
        ..Default::default()
    }
}

/// A `minf` whose sample table holds only the sample entry: the samples come in fragments.
fn media_info(codec: Codec) -> Minf {
    Minf {
        dinf: Dinf {
            dref: Dref {
                entries: vec![DrefEntry::Url(Url::default())],
            },
        },
        stbl: Stbl {
            stsd: Stsd {
                codecs: vec![codec],
            },
            stco: Some(Stco::default()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn encode(
    track: TrackKind,
    tkhd: Tkhd,
    timescale: u32,
    handler: &[u8; 4],
    minf: Minf,
) -> Result<Bytes, MediaError> {
    let id = track_id(track);
    let ftyp = Ftyp {
        major_brand: b"iso6".into(),
        minor_version: 0,
        compatible_brands: vec![b"iso6".into(), b"cmfc".into(), b"mp41".into()],
    };
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1_000,
            rate: FixedPoint::from(1u16),
            volume: FixedPoint::from(1u8),
            next_track_id: id + 1,
            ..Default::default()
        },
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![Trex {
                track_id: id,
                default_sample_description_index: 1,
                ..Default::default()
            }],
        }),
        trak: vec![Trak {
            tkhd,
            mdia: Mdia {
                mdhd: Mdhd {
                    timescale,
                    language: "und".into(),
                    ..Default::default()
                },
                hdlr: Hdlr {
                    handler: handler.into(),
                    name: format!("ferrocast {}", track.name()),
                },
                minf,
            },
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = Vec::new();
    ftyp.encode(&mut out).map_err(encode_error("ftyp"))?;
    moov.encode(&mut out).map_err(encode_error("moov"))?;
    Ok(Bytes::from(out))
}

fn clamp_u16(value: u32) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}

/// Width and height in pixels that an SPS NAL unit declares, if it can be read.
fn sps_dimensions(sps: &[u8]) -> Option<(u32, u32)> {
    use h264_reader::nal::sps::SeqParameterSet;
    use h264_reader::rbsp::{BitReader, decode_nal};

    if crate::avc::nal_type(sps) != NAL_SPS {
        return None;
    }
    let rbsp = decode_nal(sps).ok()?;
    let parsed = SeqParameterSet::from_bits(BitReader::new(&rbsp[..])).ok()?;
    parsed.pixel_dimensions().ok()
}
