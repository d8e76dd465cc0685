//! Reading back what a stored CMAF init segment says about its track: the RFC 6381 codec
//! string and the picture size, spelled exactly as the packager's [`Init`](super::Init)
//! spelled them when it wrote the segment.
//!
//! A recording keeps its init segments in object storage but not the `Init` values they came
//! from, so whatever renders a recording's multivariant playlist later (another process,
//! another node) must recover `CODECS` and `RESOLUTION` from the bytes. The bytes are
//! untrusted: every failure is a [`MediaError`], never a panic. The codec strings come from
//! the same functions the packager uses ([`crate::hevc`], [`crate::av1`], [`crate::aac`]), so
//! the two spellings cannot drift apart.

use mp4_atom::{Atom, Av01, Avc1, Codec, Decode, Ftyp, Hvcc, Moov, Mp4a, Visual};

use super::codecs::{
    OBJECT_TYPE_MPEG4_AUDIO, aac_codec_string, avc_codec_string, mpeg_audio_codec_string,
};
use crate::{MediaError, aac, av1, hevc};

/// What a stored init segment says about its track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitDescription {
    /// The RFC 6381 codec string, exactly as `Init::codec` gives it for the same track.
    pub codec: String,
    /// Width and height in pixels (video with a non-zero size).
    pub dimensions: Option<(u32, u32)>,
}

/// Reads an init segment (`ftyp` + `moov`) as the packager writes it (see `cmaf/init.rs`):
/// the sample entry of its first track must be `avc1`, `hvc1`/`hev1`, `av01` or `mp4a`
/// (AAC or MP3). Nothing may follow the `moov`.
pub fn describe_init(bytes: &[u8]) -> Result<InitDescription, MediaError> {
    let mut rest = bytes;
    Ftyp::decode(&mut rest).map_err(|_| MediaError::Invalid("cmaf init ftyp"))?;
    let moov = Moov::decode(&mut rest).map_err(|_| MediaError::Invalid("cmaf init moov"))?;
    if !rest.is_empty() {
        return Err(MediaError::Invalid("cmaf init: bytes after the moov"));
    }
    let entry = moov
        .trak
        .first()
        .and_then(|trak| trak.mdia.minf.stbl.stsd.codecs.first())
        .ok_or(MediaError::Invalid("cmaf init without a sample entry"))?;
    let codec = codec_string(entry)?;
    // The packager writes the picture size into the visual sample entry (0 x 0 when its
    // parameter sets did not say), so this is its `Init::dimensions`.
    let dimensions = entry.visual().and_then(picture_size);
    Ok(InitDescription { codec, dimensions })
}

/// The codec string of a sample entry, as the packager spells it for the same entry.
fn codec_string(entry: &Codec) -> Result<String, MediaError> {
    match entry {
        Codec::Avc1(avc1) => Ok(avc_codec(avc1)),
        Codec::Hvc1(hvc1) => hevc_codec(&hvc1.hvcc),
        // The same record in a `hev1` entry: only the sample entry's name differs.
        Codec::Hev1(hev1) => Ok(hevc_codec(&hev1.hvcc)?.replacen("hvc1", "hev1", 1)),
        Codec::Av01(av01) => av1_codec(av01),
        Codec::Mp4a(mp4a) => audio_codec(mp4a),
        Codec::Unknown(kind, _) => Err(MediaError::Unsupported(format!(
            "{kind} sample entry in a cmaf init segment"
        ))),
        _ => Err(MediaError::Unsupported(
            "cmaf init sample entry other than avc1, hvc1, hev1, av01 or mp4a".into(),
        )),
    }
}

/// `avc1.PPCCLL`: profile, constraint flags and level of the `avcC`, as `init::avc` writes.
fn avc_codec(avc1: &Avc1) -> String {
    let avcc = &avc1.avcc;
    avc_codec_string(
        avcc.avc_profile_indication,
        avcc.profile_compatibility,
        avcc.avc_level_indication,
    )
}

/// The `hvcC` encoded back to the record bytes the packager parsed, and spelled by
/// [`hevc::DecoderConfig::codec_string`], the packager's own spelling.
fn hevc_codec(hvcc: &Hvcc) -> Result<String, MediaError> {
    let mut record = Vec::new();
    hvcc.encode_body(&mut record)
        .map_err(|_| MediaError::Invalid("cmaf init hvcC"))?;
    Ok(hevc::parse(&record)?.codec_string())
}

/// The `av1C` encoded back to its record and spelled by [`av1::DecoderConfig::codec_string`].
fn av1_codec(av01: &Av01) -> Result<String, MediaError> {
    let mut record = Vec::new();
    av01.av1c
        .encode_body(&mut record)
        .map_err(|_| MediaError::Invalid("cmaf init av1C"))?;
    Ok(av1::parse(&record)?.codec_string())
}

/// `mp4a.40.{audio object type}` for AAC (from the AudioSpecificConfig, as `init::aac`
/// writes), otherwise `mp4a.{object type indication}` (MP3: `mp4a.6B`, `mp4a.69`).
fn audio_codec(mp4a: &Mp4a) -> Result<String, MediaError> {
    let config = &mp4a.esds.es_desc.dec_config;
    if config.object_type_indication != OBJECT_TYPE_MPEG4_AUDIO {
        return Ok(mpeg_audio_codec_string(config.object_type_indication));
    }
    let specific = config.dec_specific.as_ref().ok_or(MediaError::Invalid(
        "cmaf init aac without an AudioSpecificConfig",
    ))?;
    let audio_specific = aac::parse(&specific.raw)?;
    Ok(aac_codec_string(audio_specific.object_type))
}

/// The visual entry's size, when it has one.
fn picture_size(visual: &Visual) -> Option<(u32, u32)> {
    (visual.width > 0 && visual.height > 0)
        .then(|| (u32::from(visual.width), u32::from(visual.height)))
}
