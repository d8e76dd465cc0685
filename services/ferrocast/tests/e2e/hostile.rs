//! Hostile input, end to end (issue 10): each case attacks the real binary while a victim
//! stream is published and watched, then checks what a user would: the process is alive,
//! the victim's viewer never went more than a second without a frame and frames kept coming,
//! the attacker's connection was closed in time, nothing panicked, and a fresh publish plays.

use std::time::Duration;

use crate::support::attack::Ended;
use crate::support::target::Target;
use crate::support::victim::Victim;

mod cases;
mod interleaved;

use cases::*;

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
    // The figures the suite measured, for the record (`--nocapture`).
    eprintln!(
        "hostile: {}: victim's longest frame gap {:?}, attacker {:?} (allowed {:?})",
        target.name(),
        playback.longest_gap,
        closure.ended,
        closure.within
    );

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
