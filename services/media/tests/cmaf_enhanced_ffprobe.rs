//! HEVC and AV1 through the CMAF packager against real tools (ADR 19). ffmpeg's x265
//! encodes a clip with B-frames, closed GOPs of one second (an open GOP's CRA is decoded
//! before the pictures shown ahead of it, so its DTS falls short of the cut target and cuts
//! come a GOP later: correct, but not what this test is about) and a picture size that needs
//! a conformance window (330x186); libaom encodes the same for AV1. Their samples and
//! decoder configuration records are wrapped as Enhanced RTMP `hvc1` / `av01` tags (as an
//! OBS or ffmpeg 6.1+ publisher sends them; this machine's ffmpeg 5.1 cannot write them into
//! FLV itself) and interleaved with an AAC track ffmpeg wrote as FLV. The crate's FLV reader
//! and CMAF packager turn that into init segments and segments, and ffprobe reads the video
//! track back with the right codec, sample entry and size, one packet per frame and the
//! right duration, and ffmpeg decodes it without an error.

mod cmaf_support;

use std::path::Path;

use cmaf_support::{check_audio, check_video, package, path_str, run, unique_temp_dir};
use ferrocast_media::flv::{Reader, TagType};
use mp4_atom::{Any, Codec, Decode, Encode, Moov, StszSamples};

const FLV_AUDIO: u8 = 8;
const FLV_VIDEO: u8 = 9;
const SECONDS: &str = "4";
const SIZE: (u64, u64) = (330, 186);

fn ffmpeg(args: &[&str]) {
    let output = run("ffmpeg", args);
    assert!(
        output.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One FLV tag: type, timestamp (ms), body.
type Tag = (u8, u32, Vec<u8>);

/// x265: B-frames, closed one-second GOPs.
const X265: &[&str] = &[
    "-c:v",
    "libx265",
    "-x265-params",
    "keyint=30:min-keyint=30:open-gop=0:bframes=3:scenecut=0:log-level=error",
    "-tag:v",
    "hvc1",
];
/// libaom in its real-time mode: one-second GOPs, no hidden frames.
const LIBAOM: &[&str] = &[
    "-c:v",
    "libaom-av1",
    "-usage",
    "realtime",
    "-cpu-used",
    "8",
    "-g",
    "30",
    "-keyint_min",
    "30",
];

/// The encoded clip's samples as Enhanced RTMP tags: a `SequenceStart` with the decoder
/// configuration record, one `CodedFrames` per sample (with its composition time for
/// `hvc1`; AV1 sends none), a `SequenceEnd`.
fn enhanced_tags(dir: &Path, encoder: &[&str]) -> Vec<Tag> {
    let mp4 = dir.join("video.source.mp4");
    #[rustfmt::skip]
    let mut args = vec![
        "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=330x186:rate=30", "-t", SECONDS,
        "-pix_fmt", "yuv420p",
    ];
    args.extend(encoder);
    args.extend(["-map_metadata", "-1", "-f", "mp4", path_str(&mp4)]);
    ffmpeg(&args);
    let data = std::fs::read(&mp4).expect("read the x265 clip");
    let mut rest = &data[..];
    let (mut moov, mut mdat) = (None, None);
    while !rest.is_empty() {
        match Any::decode(&mut rest).expect("an mp4 box") {
            Any::Moov(found) => moov = Some(found),
            Any::Mdat(found) => mdat = Some(found.data),
            _ => {}
        }
    }
    let (moov, mdat): (Moov, Vec<u8>) = (moov.expect("moov"), mdat.expect("mdat"));
    let trak = &moov.trak[0];
    let timescale = u64::from(trak.mdia.mdhd.timescale);
    let stbl = &trak.mdia.minf.stbl;
    let mut record = Vec::new();
    let fourcc: &[u8; 4] = match &stbl.stsd.codecs[0] {
        Codec::Hvc1(hvc1) => {
            hvc1.hvcc.encode(&mut record).expect("encode hvcC");
            b"hvc1"
        }
        Codec::Av01(av01) => {
            av01.av1c.encode(&mut record).expect("encode av1C");
            b"av01"
        }
        other => panic!("neither hvc1 nor av01: {other:?}"),
    };
    let record = &record[8..]; // the box body
    let StszSamples::Different { sizes } = &stbl.stsz.samples else {
        panic!("frames of one size");
    };
    let deltas = stbl
        .stts
        .entries
        .iter()
        .flat_map(|e| std::iter::repeat_n(u64::from(e.sample_delta), e.sample_count as usize));
    let offsets: Vec<i64> = stbl.ctts.as_ref().map_or_else(Vec::new, |ctts| {
        ctts.entries
            .iter()
            .flat_map(|e| std::iter::repeat_n(e.sample_offset, e.sample_count as usize))
            .collect()
    });
    let sync = &stbl.stss.as_ref().expect("stss").entries;
    let sum: u64 = sizes.iter().map(|&s| u64::from(s)).sum();
    assert_eq!(
        sum,
        mdat.len() as u64,
        "one track: samples follow each other"
    );
    let ms = |ticks: i64| (ticks * 1_000 + timescale as i64 / 2) / timescale as i64;

    let mut tags = vec![(FLV_VIDEO, 0, [&b"\x90"[..], fourcc, record].concat())];
    let (mut at, mut dts) = (0usize, 0i64);
    for (index, (&size, delta)) in sizes.iter().zip(deltas).enumerate() {
        let sample = &mdat[at..at + size as usize];
        at += size as usize;
        let key = sync.contains(&(index as u32 + 1));
        let pts = dts + offsets.get(index).copied().unwrap_or(0);
        let cts = ms(pts) - ms(dts);
        let first = if key { 0x91 } else { 0xA1 };
        let mut body = vec![first];
        body.extend_from_slice(fourcc);
        if fourcc == b"hvc1" {
            let cts = i32::try_from(cts).expect("a small composition time");
            body.extend_from_slice(&cts.to_be_bytes()[1..]);
        }
        body.extend_from_slice(sample);
        tags.push((
            FLV_VIDEO,
            u32::try_from(ms(dts)).expect("seconds of media"),
            body,
        ));
        dts += delta as i64;
    }
    tags.push((
        FLV_VIDEO,
        u32::try_from(ms(dts)).expect("seconds of media"),
        [&b"\x92"[..], fourcc].concat(),
    ));
    tags
}

/// An AAC track's tags, from an FLV ffmpeg wrote.
fn aac_tags(dir: &Path) -> Vec<Tag> {
    let flv = dir.join("aac.flv");
    #[rustfmt::skip]
    ffmpeg(&[
        "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440", "-t", SECONDS,
        "-c:a", "aac", "-ar", "48000", "-f", "flv", path_str(&flv),
    ]);
    let mut reader = Reader::new();
    reader.push(&std::fs::read(&flv).expect("read the aac flv"));
    let mut tags = Vec::new();
    while let Some(tag) = reader.next_tag().expect("valid flv") {
        if tag.tag_type == TagType::Audio {
            tags.push((FLV_AUDIO, tag.timestamp_ms, tag.body.to_vec()));
        }
    }
    tags
}

/// An FLV file of `tags` in timestamp order (video first at equal times).
fn flv_file(mut tags: Vec<Tag>) -> Vec<u8> {
    tags.sort_by_key(|&(kind, ts, _)| (ts, kind != FLV_VIDEO));
    let mut out = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
    for (kind, ts, body) in tags {
        out.push(kind);
        out.extend_from_slice(
            &u32::try_from(body.len())
                .expect("a small tag")
                .to_be_bytes()[1..],
        );
        out.extend_from_slice(&ts.to_be_bytes()[1..]);
        out.push((ts >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&body);
        out.extend_from_slice(
            &u32::try_from(body.len() + 11)
                .expect("a small tag")
                .to_be_bytes(),
        );
    }
    out
}

/// Packages `encoder`'s clip with AAC and checks what ffprobe reads: the codec, its sample
/// entry and profile, and the init segment's codec string and size.
fn check_publish(name: &str, encoder: &[&str], codec: &str, probed: &str, codec_string: &str) {
    let dir = unique_temp_dir(name);
    let mut tags = enhanced_tags(&dir, encoder);
    tags.extend(aac_tags(&dir));
    let packaged = package(&flv_file(tags), true);
    assert_eq!(packaged.video_frames, 120, "4 s at 30 fps");
    assert_eq!(
        packaged.segments, 2,
        "4 s in 2 s segments (keyframes every second)"
    );
    let init = packaged.video_init.as_ref().expect("a video init");
    assert_eq!(init.codec, codec_string);
    assert_eq!(init.dimensions, Some((330, 186)));
    check_video(&dir, &packaged, codec, SIZE);
    check_audio(&dir, &packaged, "aac", 48_000, 1024.0);
    let file = dir.join("video.mp4");
    #[rustfmt::skip]
    let output = run("ffprobe", &[
        "-v", "error", "-select_streams", "v", "-show_entries", "stream=codec_tag_string,profile",
        "-of", "csv=p=0", path_str(&file),
    ]);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), probed);
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}

/// x265 at 330x186: Main profile, level 2 (`level_idc` 60), progressive and frame-only; the
/// size comes through the SPS's conformance window (the coded size is 336x192).
#[test]
fn ffprobe_reads_an_hevc_track_from_enhanced_rtmp() {
    check_publish("hevc", X265, "hevc", "Main,hvc1", "hvc1.1.6.L60.90");
}

/// libaom at 330x186: Main profile, level 2.0 (`seq_level_idx` 0), 8-bit.
#[test]
fn ffprobe_reads_an_av1_track_from_enhanced_rtmp() {
    check_publish("av1", LIBAOM, "av1", "Main,av01", "av01.0.00M.08");
}
