//! Hostile input, end to end (issue 10): each case attacks the real binary while a victim
//! stream is published and watched, then checks what a user would: the process is alive,
//! the victim's viewer never went more than a second without a frame and frames kept coming,
//! the attacker's connection was closed in time, nothing panicked, and a fresh publish plays.

use std::time::{Duration, Instant};

use crate::support::attack::{self, Attacker, DEFAULT_CHUNK_SIZE, Ended, Header, message_type};
use crate::support::target::Target;
use crate::support::victim::Victim;

mod interleaved;

/// A connection whose bytes are wrong at once (a bad handshake, an illegal chunk size, a
/// message over the limit, an AMF0 value too deep) ends as soon as they arrive.
const PROMPTLY: Duration = Duration::from_secs(3);
/// `rtmp` handshake deadline (5 s, `ferrocast_rtmp::Limits`), with 2 s to spare.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(7);
/// Default `rtmp.start_timeout` (10 s from the handshake's end to publish or play), with 2 s.
const START_DEADLINE: Duration = Duration::from_secs(12);
/// Default header-read timeout of the HTTP server (10 s), with 2 s.
const HEADER_READ_DEADLINE: Duration = Duration::from_secs(12);
/// The victim's viewer may never wait longer than this for a frame.
const MAX_FRAME_GAP: Duration = Duration::from_secs(1);

/// How an attack ended: whether the server closed the attacker's connection, and by when it
/// had to.
struct Closure {
    ended: Ended,
    within: Duration,
    note: String,
}

impl Closure {
    fn new(ended: Ended, within: Duration) -> Self {
        Self {
            ended,
            within,
            note: String::new(),
        }
    }
}

/// Runs `attack` against `target` while the victim plays, then checks everything and fails
/// with every problem at once, so one run says which defences are missing.
fn survive(mut target: Target, attack: fn(&Target) -> Closure) {
    let (publish, flv) = target.victim.clone();
    let victim = Victim::start(&publish, &flv);
    let closure = attack(&target);
    let kept_coming = victim.wait_frames(30, Duration::from_secs(5));
    let playback = victim.stop();

    let mut problems = Vec::new();
    let dead = target.dead();
    if !dead.is_empty() {
        problems.push(format!("died: {dead:?}"));
    }
    if playback.longest_gap > MAX_FRAME_GAP {
        problems.push(format!(
            "the victim's viewer waited {:?} for a frame: {playback:?}",
            playback.longest_gap
        ));
    }
    if !kept_coming {
        problems.push(format!(
            "the victim's frames stopped coming after the attack: {playback:?}"
        ));
    }
    match closure.ended {
        Ended::Closed(after) if after <= closure.within => {}
        Ended::Closed(after) => problems.push(format!(
            "the attacker's connection was closed only after {after:?}, not within {:?} {}",
            closure.within, closure.note
        )),
        Ended::StillOpen => problems.push(format!(
            "the attacker's connection was still open after {:?} {}",
            closure.within, closure.note
        )),
    }
    let log = target.log();
    for sign in ["panicked", "overflowed its stack"] {
        if let Some(line) = log.lines().find(|line| line.contains(sign)) {
            problems.push(format!("the server logged a crash: {line}"));
        }
    }
    if dead.is_empty()
        && let Err(why) = target.fresh_publish_plays()
    {
        problems.push(why);
    }
    assert!(
        problems.is_empty(),
        "{} under attack:\n- {}",
        target.name(),
        problems.join("\n- ")
    );
}

/// A connection that has completed the handshake, and when it did.
fn handshaken(target: &Target) -> (Attacker, Instant) {
    let mut attacker = Attacker::connect(&target.rtmp_addr).expect("connect to rtmp");
    attacker.handshake().expect("rtmp handshake");
    (attacker, Instant::now())
}

/// Sends `bytes`, then waits for the server to close the connection within `within`.
fn send_and_wait(
    mut attacker: Attacker,
    since: Instant,
    bytes: &[u8],
    within: Duration,
) -> Closure {
    // A write the server refuses midway fails; the read below sees the close.
    let _ = attacker.send(bytes);
    Closure::new(attacker.wait_closed(since, since + within), within)
}

/// `connect` whose command object nests 10,000 objects (~70 KB): a recursive decoder
/// overflows its stack on it.
fn deep_amf_connect(target: &Target) -> Closure {
    let (attacker, since) = handshaken(target);
    let object = attack::deep_connect_object(&target.app, 10_000);
    let bytes = attack::command(0, "connect", 1.0, &object, DEFAULT_CHUNK_SIZE);
    assert!(bytes.len() > 65_000, "{} bytes", bytes.len());
    send_and_wait(attacker, since, &bytes, PROMPTLY)
}

/// Set Chunk Size 0x7FFFFFFF (legal), then a 9 MiB message, above the 8 MiB default
/// `rtmp.max_message_size`, in one chunk.
fn huge_chunk_size_then_large_message(target: &Target) -> Closure {
    let (mut attacker, since) = handshaken(target);
    let _ = attacker.send_connect(&target.app);
    let mut bytes = attack::control(message_type::SET_CHUNK_SIZE, 0x7FFF_FFFF);
    let payload = vec![0x17; 9 * 1024 * 1024];
    let header = Header::full(0, payload.len(), message_type::VIDEO, 1);
    bytes.extend(attack::message(6, header, &payload, 0x7FFF_FFFF));
    send_and_wait(attacker, since, &bytes, PROMPTLY)
}

/// Set Chunk Size 0, which the specification does not allow, then a command.
fn zero_chunk_size(target: &Target) -> Closure {
    let (attacker, since) = handshaken(target);
    let mut bytes = attack::control(message_type::SET_CHUNK_SIZE, 0);
    let object = attack::connect_object(&target.app, "rtmp://127.0.0.1/live");
    bytes.extend(attack::command(
        0,
        "connect",
        1.0,
        &object,
        DEFAULT_CHUNK_SIZE,
    ));
    send_and_wait(attacker, since, &bytes, PROMPTLY)
}

/// A 1000-byte message whose second chunk carries a Type 1 header with a length of 50.
fn length_shrinks_mid_message(target: &Target) -> Closure {
    let (attacker, since) = handshaken(target);
    let payload = vec![0x02; 1000];
    let header = Header::full(0, payload.len(), message_type::DATA_AMF0, 0);
    let mut bytes = attack::chunks(5, header, &payload, DEFAULT_CHUNK_SIZE).swap_remove(0);
    let shrunk = Header::Delta {
        delta: 0,
        length: 50,
        type_id: message_type::DATA_AMF0,
    };
    bytes.extend(attack::message(
        5,
        shrunk,
        &payload[..50],
        DEFAULT_CHUNK_SIZE,
    ));
    // Either a protocol error at once or, read as a new message, the start deadline.
    send_and_wait(attacker, since, &bytes, START_DEADLINE)
}

/// A 16 MB message announced, then trickled at 160 KB/s: refused on its header, it holds
/// no buffer, where a server that waits for 8 MiB to arrive holds one for 50 s.
fn trickled_16_mb_message(target: &Target) -> Closure {
    let (mut attacker, since) = handshaken(target);
    let _ = attacker.send_connect(&target.app);
    let length = 0xFF_FFFF;
    let header = Header::full(0, length, message_type::VIDEO, 1);
    let mut chunks = attack::chunks(6, header, &vec![0x17; length], DEFAULT_CHUNK_SIZE).into_iter();
    let until = since + PROMPTLY;
    let mut sent = 0;
    let ended = loop {
        let burst: Vec<u8> = chunks.by_ref().take(64).flatten().collect();
        sent += burst.len();
        if burst.is_empty() || attacker.send(&burst).is_err() {
            break attacker.wait_closed(since, until);
        }
        let pause = (Instant::now() + Duration::from_millis(50)).min(until);
        match attacker.wait_closed(since, pause) {
            Ended::StillOpen if Instant::now() < until => {}
            ended => break ended,
        }
    };
    Closure {
        ended,
        within: PROMPTLY,
        note: format!("({sent} bytes trickled)"),
    }
}

/// An HTTP request where the RTMP handshake should be.
fn garbage_handshake(target: &Target) -> Closure {
    let mut attacker = Attacker::connect(&target.rtmp_addr).expect("connect to rtmp");
    let since = Instant::now();
    let mut bytes = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec();
    bytes.resize(1537 + 1536, 0xAB);
    let _ = attacker.send(&bytes);
    Closure::new(attacker.wait_closed(since, since + PROMPTLY), PROMPTLY)
}

/// C0 and C1 at one byte a second.
fn slow_handshake(target: &Target) -> Closure {
    let mut attacker = Attacker::connect(&target.rtmp_addr).expect("connect to rtmp");
    let since = Instant::now();
    let mut c0_c1 = vec![0u8; 1537];
    c0_c1[0] = 3;
    let pace = Duration::from_secs(1);
    let ended = attacker.dribble(&c0_c1, pace, since, since + HANDSHAKE_DEADLINE);
    Closure::new(ended, HANDSHAKE_DEADLINE)
}

/// `connect`, then a Window Acknowledgement Size every 3 s, and never a publish or play.
fn never_publishes(target: &Target) -> Closure {
    let (mut attacker, since) = handshaken(target);
    let _ = attacker.send_connect(&target.app);
    let until = since + START_DEADLINE;
    let ended = loop {
        let keepalive = attack::control(message_type::WINDOW_ACK_SIZE, 2_500_000);
        if attacker.send(&keepalive).is_err() {
            break attacker.wait_closed(since, until);
        }
        let pause = (Instant::now() + Duration::from_secs(3)).min(until);
        match attacker.wait_closed(since, pause) {
            Ended::StillOpen if Instant::now() < until => {}
            ended => break ended,
        }
    };
    Closure::new(ended, START_DEADLINE)
}

/// 1,000 connections from 127.0.0.1, each completing the handshake if the server lets it,
/// then idle: all must be closed by the start deadline (a per-IP cap closes most at once).
fn thousand_connections(target: &Target) -> Closure {
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..1000 {
        let Ok(mut attacker) = Attacker::connect(&target.rtmp_addr) else {
            refused += 1;
            continue;
        };
        match attacker.handshake() {
            Ok(()) => held.push(attacker),
            Err(_) => refused += 1,
        }
    }
    let since = Instant::now();
    let until = since + START_DEADLINE;
    let handshaken = held.len();
    let still_open = held
        .iter_mut()
        .map(|attacker| attacker.wait_closed(since, until))
        .filter(|ended| matches!(ended, Ended::StillOpen))
        .count();
    let ended = if still_open == 0 {
        Ended::Closed(since.elapsed())
    } else {
        Ended::StillOpen
    };
    Closure {
        ended,
        within: START_DEADLINE,
        note: format!(
            "({handshaken} completed the handshake, {refused} were refused, {still_open} still open)"
        ),
    }
}

/// An HTTP-FLV request to the edge at one byte a second, its headers never finished.
fn slow_loris(target: &Target) -> Closure {
    let mut attacker = Attacker::connect(&target.http_addr).expect("connect to http");
    let since = Instant::now();
    let request = b"GET /live/slowloris.flv HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let pace = Duration::from_secs(1);
    let ended = attacker.dribble(request, pace, since, since + HEADER_READ_DEADLINE);
    Closure::new(ended, HEADER_READ_DEADLINE)
}

/// Every case against `ferrocast dev`.
mod dev {
    use super::*;

    fn dev() -> Target {
        Target::dev(&[])
    }

    #[test]
    fn survives_a_deep_amf_connect() {
        survive(dev(), deep_amf_connect);
    }

    #[test]
    fn survives_a_huge_chunk_size_then_a_large_message() {
        survive(dev(), huge_chunk_size_then_large_message);
    }

    #[test]
    fn survives_a_zero_chunk_size() {
        survive(dev(), zero_chunk_size);
    }

    #[test]
    fn survives_a_length_that_shrinks_mid_message() {
        survive(dev(), length_shrinks_mid_message);
    }

    #[test]
    fn survives_a_trickled_16_mb_message() {
        survive(dev(), trickled_16_mb_message);
    }

    #[test]
    fn survives_a_garbage_handshake() {
        survive(dev(), garbage_handshake);
    }

    #[test]
    fn survives_a_slow_handshake() {
        survive(dev(), slow_handshake);
    }

    #[test]
    fn closes_a_connection_that_never_publishes() {
        survive(dev(), never_publishes);
    }

    #[test]
    fn survives_a_thousand_connections_from_one_ip() {
        survive(dev(), thousand_connections);
    }

    #[test]
    fn closes_a_slow_loris_http_client() {
        survive(dev(), slow_loris);
    }
}

/// The cases that reach a separate origin or edge process, against the local cluster.
mod cluster {
    use super::*;

    #[test]
    fn survives_a_deep_amf_connect() {
        survive(Target::cluster(), deep_amf_connect);
    }

    #[test]
    fn survives_a_huge_chunk_size_then_a_large_message() {
        survive(Target::cluster(), huge_chunk_size_then_large_message);
    }

    #[test]
    fn survives_a_zero_chunk_size() {
        survive(Target::cluster(), zero_chunk_size);
    }

    #[test]
    fn survives_a_length_that_shrinks_mid_message() {
        survive(Target::cluster(), length_shrinks_mid_message);
    }

    #[test]
    fn survives_a_trickled_16_mb_message() {
        survive(Target::cluster(), trickled_16_mb_message);
    }

    #[test]
    fn survives_a_garbage_handshake() {
        survive(Target::cluster(), garbage_handshake);
    }

    #[test]
    fn survives_a_slow_handshake() {
        survive(Target::cluster(), slow_handshake);
    }

    #[test]
    fn closes_a_connection_that_never_publishes() {
        survive(Target::cluster(), never_publishes);
    }

    #[test]
    fn survives_a_thousand_connections_from_one_ip() {
        survive(Target::cluster(), thousand_connections);
    }

    #[test]
    fn closes_a_slow_loris_http_client() {
        survive(Target::cluster(), slow_loris);
    }
}
