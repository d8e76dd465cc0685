//! The attacks, one function each: it attacks `target` and says whether and when the server
//! closed the attacker's connection, and by when it had to.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use super::{Closure, HANDSHAKE_DEADLINE, HEADER_READ_DEADLINE, PROMPTLY, START_DEADLINE};
use crate::support::attack::{self, Attacker, DEFAULT_CHUNK_SIZE, Ended, Header, message_type};
use crate::support::target::Target;

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
pub(super) fn deep_amf_connect(target: &Target) -> Closure {
    let (attacker, since) = handshaken(target);
    let object = attack::deep_connect_object(&target.app, 10_000);
    let bytes = attack::command(0, "connect", 1.0, &object, DEFAULT_CHUNK_SIZE);
    assert!(bytes.len() > 65_000, "{} bytes", bytes.len());
    send_and_wait(attacker, since, &bytes, PROMPTLY)
}

/// Set Chunk Size 0x7FFFFFFF (legal), then a 9 MiB message, above the 8 MiB default
/// `rtmp.max_message_size`, in one chunk.
pub(super) fn huge_chunk_size_then_large_message(target: &Target) -> Closure {
    let (mut attacker, since) = handshaken(target);
    let _ = attacker.send_connect(&target.app);
    let mut bytes = attack::control(message_type::SET_CHUNK_SIZE, 0x7FFF_FFFF);
    let payload = vec![0x17; 9 * 1024 * 1024];
    let header = Header::full(0, payload.len(), message_type::VIDEO, 1);
    bytes.extend(attack::message(6, header, &payload, 0x7FFF_FFFF));
    send_and_wait(attacker, since, &bytes, PROMPTLY)
}

/// Set Chunk Size 0, which the specification does not allow, then a command.
pub(super) fn zero_chunk_size(target: &Target) -> Closure {
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
pub(super) fn length_shrinks_mid_message(target: &Target) -> Closure {
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
pub(super) fn trickled_16_mb_message(target: &Target) -> Closure {
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
pub(super) fn garbage_handshake(target: &Target) -> Closure {
    let mut attacker = Attacker::connect(&target.rtmp_addr).expect("connect to rtmp");
    let since = Instant::now();
    let mut bytes = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec();
    bytes.resize(1537 + 1536, 0xAB);
    let _ = attacker.send(&bytes);
    Closure::new(attacker.wait_closed(since, since + PROMPTLY), PROMPTLY)
}

/// C0 and C1 at one byte a second.
pub(super) fn slow_handshake(target: &Target) -> Closure {
    let mut attacker = Attacker::connect(&target.rtmp_addr).expect("connect to rtmp");
    let since = Instant::now();
    let mut c0_c1 = vec![0u8; 1537];
    c0_c1[0] = 3;
    let pace = Duration::from_secs(1);
    let ended = attacker.dribble(&c0_c1, pace, since, since + HANDSHAKE_DEADLINE);
    Closure::new(ended, HANDSHAKE_DEADLINE)
}

/// `connect`, then a Window Acknowledgement Size every 3 s, and never a publish or play.
pub(super) fn never_publishes(target: &Target) -> Closure {
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
pub(super) fn thousand_connections(target: &Target) -> Closure {
    let mut held = Vec::new();
    let (mut handshaken, mut refused) = (0, 0);
    // However the server behaves, opening them takes at most 30 s.
    let opening_ends = Instant::now() + Duration::from_secs(30);
    for _ in 0..1000 {
        let mut attacker = match Attacker::connect(&target.rtmp_addr) {
            Ok(attacker) => attacker,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                refused += 1;
                continue;
            }
            // Out of file descriptors here, say: the case would prove nothing.
            Err(e) => panic!("the attacker could not open connection {}: {e}", held.len()),
        };
        let left = opening_ends.saturating_duration_since(Instant::now());
        match attacker
            .handshake_within(left.clamp(Duration::from_millis(1), Duration::from_secs(2)))
        {
            Ok(()) => handshaken += 1,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                refused += 1;
                continue;
            }
        }
        // Held, whether the server answered the handshake or left it hanging.
        held.push(attacker);
    }
    let since = Instant::now();
    let until = since + START_DEADLINE;
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
            "({handshaken} of {} held completed the handshake, {refused} were refused, {still_open} still open)",
            held.len()
        ),
    }
}

/// An HTTP-FLV request to the edge at one byte a second, its headers never finished.
pub(super) fn slow_loris(target: &Target) -> Closure {
    let mut attacker = Attacker::connect(&target.http_addr).expect("connect to http");
    let since = Instant::now();
    let request = b"GET /live/slowloris.flv HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let pace = Duration::from_secs(1);
    let ended = attacker.dribble(request, pace, since, since + HEADER_READ_DEADLINE);
    Closure::new(ended, HEADER_READ_DEADLINE)
}
