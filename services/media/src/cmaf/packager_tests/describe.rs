//! `describe_init` on init segments the packager wrote: it gives back exactly the packager's
//! codec string and picture size, and refuses anything else (garbage, a truncated init, a
//! sample entry it does not know) with an error, never a panic.

use mp4_atom::{Codec, Encode, Hev1};
use proptest::prelude::*;

use super::*;
use crate::test_support::{flv_av1, flv_av1_sequence_start, flv_hevc, flv_hevc_sequence_start};

/// What `describe_init` must say about `init`: what the packager said when it wrote it.
fn expected(init: &Init) -> InitDescription {
    InitDescription {
        codec: init.codec.clone(),
        dimensions: init.dimensions,
    }
}

/// The init segments of a session after `feed` ran on it, one per track.
fn session_inits(config: Config, feed: impl FnOnce(&mut Session)) -> Vec<Init> {
    let mut session = Session::new(config);
    feed(&mut session);
    inits(&session.finish()).into_iter().cloned().collect()
}

/// An H.264 + AAC session's inits.
fn avc_and_aac() -> Vec<Init> {
    session_inits(config(1_000, true), |session| {
        session.video(0, &avc_sequence_header(&SPS)).unwrap();
        session.audio(0, &AAC_SEQUENCE_HEADER).unwrap();
        session.video(0, &video(true, 0, 10)).unwrap();
    })
}

fn hevc() -> Init {
    let inits = session_inits(config(1_000, true), |session| {
        session.video(0, &flv_hevc_sequence_start(93)).unwrap();
        session.video(0, &flv_hevc(true, true, 0, 10)).unwrap();
    });
    inits[0].clone()
}

fn av1() -> Init {
    let inits = session_inits(config(1_000, true), |session| {
        session.video(0, &flv_av1_sequence_start()).unwrap();
        session.video(0, &flv_av1(true, 30)).unwrap();
    });
    inits[0].clone()
}

fn mp3_init() -> Init {
    let inits = session_inits(config(1_000, false), |session| {
        session.audio(0, &mp3(400)).unwrap();
    });
    inits[0].clone()
}

/// Every kind of init segment the packager writes.
fn every_init() -> Vec<Init> {
    let mut all = avc_and_aac();
    all.extend([hevc(), av1(), mp3_init()]);
    all
}

#[test]
fn every_init_the_packager_writes_is_described_as_it_said() {
    let all = every_init();
    let codecs: Vec<&str> = all.iter().map(|init| init.codec.as_str()).collect();
    assert_eq!(
        codecs,
        [
            "avc1.64000d",
            "mp4a.40.2",
            "hvc1.1.6.L93.90",
            "av01.0.00M.08",
            "mp4a.6B"
        ]
    );
    for init in &all {
        assert_eq!(
            describe_init(&init.data),
            Ok(expected(init)),
            "{}",
            init.codec
        );
    }
    assert_eq!(all[0].dimensions, Some((320, 240)));
    assert_eq!(all[2].dimensions, Some((160, 120)));
}

#[test]
fn an_hev1_entry_names_hev1() {
    let init = hevc();
    let (ftyp, mut moov) = decode_init(&init.data);
    let entry = &mut moov.trak[0].mdia.minf.stbl.stsd.codecs[0];
    let Codec::Hvc1(hvc1) = entry else {
        panic!("not hvc1: {entry:?}");
    };
    *entry = Codec::Hev1(Hev1 {
        visual: hvc1.visual.clone(),
        hvcc: hvc1.hvcc.clone(),
        ..Default::default()
    });
    let mut data = Vec::new();
    ftyp.encode(&mut data).unwrap();
    moov.encode(&mut data).unwrap();
    let described = describe_init(&data).unwrap();
    assert_eq!(described.codec, "hev1.1.6.L93.90");
    assert_eq!(described.dimensions, init.dimensions);
}

#[test]
fn garbage_empty_and_truncated_inits_are_refused() {
    assert!(describe_init(&[]).is_err());
    assert!(describe_init(b"not an init segment at all").is_err());
    assert!(describe_init(&[0xFF; 64]).is_err());
    for init in every_init() {
        let data = &init.data[..];
        assert!(
            describe_init(&data[..data.len() / 2]).is_err(),
            "{}",
            init.codec
        );
        // Every shorter prefix too: a partial object from storage.
        for len in 0..data.len() {
            assert!(describe_init(&data[..len]).is_err(), "{} {len}", init.codec);
        }
        let mut longer = data.to_vec();
        longer.push(0);
        assert!(describe_init(&longer).is_err(), "{}", init.codec);
    }
}

#[test]
fn a_sample_entry_the_packager_does_not_write_is_unsupported() {
    let init = &avc_and_aac()[0];
    let mut data = init.data.to_vec();
    let at = data
        .windows(4)
        .position(|window| window == b"avc1")
        .unwrap();
    data[at..at + 4].copy_from_slice(b"zzzz");
    assert!(matches!(
        describe_init(&data),
        Err(MediaError::Unsupported(text)) if text.contains("zzzz")
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Objects from storage are untrusted: arbitrary bytes, and real inits with bytes
    /// changed, give an answer or an error, never a panic.
    #[test]
    fn no_bytes_make_it_panic(
        garbage in proptest::collection::vec(any::<u8>(), 0..512),
        which in 0usize..5,
        changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let _ = describe_init(&garbage);
        let init = &every_init()[which];
        let mut data = init.data.to_vec();
        let len = data.len();
        for (index, byte) in changes {
            data[index.index(len)] = byte;
        }
        let _ = describe_init(&data);
    }
}
