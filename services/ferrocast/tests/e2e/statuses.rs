//! A refused broadcaster or player learns why, whatever its client (issue 10): a wrong key, a
//! key already live and a draining origin are each an `onStatus` of level `error` on the
//! publish's message stream, with the standard code and a description naming the reason but
//! not the key; librtmp (GStreamer's `rtmpsink`, `rtmpdump`, the library OBS forked) and
//! ffmpeg print it. The key never reaches the server's log.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::attack::{Attacker, Status};
use crate::support::http::request;
use crate::support::media::run_bounded;
use crate::support::server::{DevServer, dev};
use crate::support::target::host_port;
use crate::support::victim::{Victim, small_clip};
use crate::support::wait_for;

/// One `onStatus` as librtmp logged it: its code, and the description in the dump of the
/// command before it.
#[derive(Debug, PartialEq)]
struct LibrtmpStatus {
    code: String,
    description: String,
}

/// The `onStatus` commands in librtmp's debug output, in order. librtmp dumps every command's
/// AMF0 properties and then logs `HandleInvoke, onStatus: <code>`.
fn librtmp_statuses(output: &str) -> Vec<LibrtmpStatus> {
    let mut statuses = Vec::new();
    let mut description = String::new();
    for line in output.lines() {
        if let Some((_, rest)) = line.split_once("description, STRING:") {
            description = rest.trim().trim_end_matches('>').to_owned();
        }
        if let Some((_, code)) = line.split_once("HandleInvoke, onStatus: ") {
            statuses.push(LibrtmpStatus {
                code: code.trim().to_owned(),
                description: std::mem::take(&mut description),
            });
        }
    }
    statuses
}

fn installed(tool: &str) {
    let found = Command::new("which").arg(tool).output();
    assert!(
        found.is_ok_and(|out| out.status.success()),
        "{tool} is not installed: run scripts/install-test-deps.sh"
    );
}

/// Publishes the small clip through GStreamer's `rtmpsink` (librtmp), with librtmp's debug
/// log on: everything it printed.
fn rtmpsink_publish(url: &str) -> String {
    installed("gst-launch-1.0");
    let pipeline = format!(
        "filesrc location={} ! flvdemux name=d d.video ! queue ! h264parse ! flvmux name=m streamable=true \
         ! rtmpsink location={url} d.audio ! queue ! aacparse ! m.",
        small_clip().display()
    );
    let mut command = Command::new("gst-launch-1.0");
    command.args(pipeline.split_whitespace());
    // librtmp logs through GStreamer's `rtmp` category; at debug level it dumps each command.
    command
        .env("GST_DEBUG", "rtmp:5")
        .env("GST_DEBUG_NO_COLOR", "1");
    let output = run_bounded(command, 30);
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Publishes the small clip with ffmpeg: its error output.
fn ffmpeg_publish(url: &str) -> String {
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-v", "error", "-re", "-i"]);
    command
        .arg(small_clip())
        .args(["-c", "copy", "-f", "flv", url]);
    String::from_utf8_lossy(&run_bounded(command, 30).stderr).into_owned()
}

/// What a test found wrong, reported together so one run shows every missing piece.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    fn assert_none(self) {
        assert!(self.0.is_empty(), "\n- {}", self.0.join("\n- "));
    }
}

/// Checks that the raw client, `rtmpsink` and ffmpeg each show `reason` for a publish of
/// `key` to `server`, and that the raw client got `onStatus` level `error` with a code of
/// `codes` on its own message stream.
fn refused_everywhere(
    server: &DevServer,
    key: &str,
    codes: &[&str],
    reason: &str,
    problems: &mut Problems,
) {
    let url = format!("{}/{key}", server.rtmp_server);
    let answer = Attacker::connect(&host_port(&server.rtmp_server))
        .and_then(|mut attacker| attacker.handshake().map(|()| attacker))
        .map_err(|e| format!("connect: {e}"))
        .and_then(|mut attacker| attacker.publish("live", key, Duration::from_secs(10)));
    match answer {
        Ok((stream_id, status)) => check_refusal(&status, stream_id, codes, reason, key, problems),
        Err(why) => problems
            .0
            .push(format!("raw client: the publish got no status: {why}")),
    }

    let gstreamer = rtmpsink_publish(&url);
    let statuses = librtmp_statuses(&gstreamer);
    let shown = statuses
        .iter()
        .any(|s| codes.contains(&s.code.as_str()) && s.description.contains(reason));
    problems.check(shown, || {
        let tail = tail(&gstreamer);
        format!(
            "rtmpsink (librtmp) shows no onStatus {codes:?} saying {reason:?}: {statuses:?}\n{tail}"
        )
    });
    let ffmpeg = ffmpeg_publish(&url);
    problems.check(ffmpeg.contains(reason), || {
        format!("ffmpeg shows no {reason:?}: {ffmpeg}")
    });
}

/// A refusal is an `onStatus` of level `error` on the publish's message stream, with one of
/// `codes` and a description naming `reason` but not the key.
fn check_refusal(
    status: &Status,
    stream_id: u32,
    codes: &[&str],
    reason: &str,
    key: &str,
    problems: &mut Problems,
) {
    let form = (status.command.as_str(), status.level.as_str());
    problems.check(form == ("onStatus", "error"), || {
        format!("raw client: the refusal is not an onStatus of level error: {status:?}")
    });
    problems.check(codes.contains(&status.code.as_str()), || {
        format!("raw client: code {:?} is none of {codes:?}", status.code)
    });
    problems.check(status.message_stream_id == stream_id, || {
        format!("raw client: not on the publish's message stream {stream_id}: {status:?}")
    });
    problems.check(status.description.contains(reason), || {
        format!("raw client: the description does not say {reason:?}: {status:?}")
    });
    problems.check(!status.description.contains(secret(key)), || {
        format!("raw client: the key is in {status:?}")
    });
}

/// The secret part of a stream key (`sk_<stream id>_<secret>`).
fn secret(key: &str) -> &str {
    key.rsplit('_').next().unwrap_or(key)
}

fn check_key_not_logged(server: &DevServer, key: &str, problems: &mut Problems) {
    let log = server.log();
    problems.check(!log.contains(secret(key)), || {
        format!("the server logged the key {key}:\n{log}")
    });
}

/// The last lines of a long tool output.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
fn a_wrong_key_is_refused_with_its_reason_in_every_client() {
    let server = dev().start();
    let stream_id = server
        .stream_key
        .split('_')
        .nth(1)
        .expect("sk_<id>_<secret>");
    let wrong_key = format!("sk_{stream_id}_{}", "f".repeat(48));
    let mut problems = Problems::default();
    let denied = ["NetStream.Publish.Denied"];
    refused_everywhere(
        &server,
        &wrong_key,
        &denied,
        "wrong stream key",
        &mut problems,
    );
    check_key_not_logged(&server, &wrong_key, &mut problems);
    check_key_not_logged(&server, &server.stream_key, &mut problems);
    problems.assert_none();
}

#[test]
fn a_key_already_live_is_refused_with_its_reason_in_every_client() {
    let server = dev().start();
    let victim = Victim::start(&server.publish_url, &server.flv_url);
    let mut problems = Problems::default();
    let bad_name = ["NetStream.Publish.BadName"];
    refused_everywhere(
        &server,
        &server.stream_key,
        &bad_name,
        "already live",
        &mut problems,
    );
    let live = victim.wait_frames(30, Duration::from_secs(5));
    problems.check(live, || "the live publish stopped".to_owned());
    drop(victim);
    check_key_not_logged(&server, &server.stream_key, &mut problems);
    problems.assert_none();
}

#[test]
fn a_draining_origin_refuses_publishes_with_its_reason_in_every_client() {
    // A running publish keeps the process draining (up to 60 s) while clients try.
    let server = dev().start_with(&[("FERROCAST_ORIGIN__DRAIN__PUBLISH_DEADLINE", "60s")]);
    let _victim = Victim::start(&server.publish_url, &server.flv_url);
    let codes = ["NetStream.Publish.Failed", "NetStream.Publish.Unavailable"];
    let mut problems = Problems::default();

    // A broadcaster connected before the drain, publishing after it began.
    let mut early = Attacker::connect(&host_port(&server.rtmp_server)).expect("connect");
    early.handshake().expect("handshake");
    let until = Instant::now() + Duration::from_secs(10);
    let stream_id = early.create_stream("live", until).expect("createStream");
    let drain = request("POST", &format!("{}/drain", server.ops_url), &[], "");
    assert_eq!(drain.status, 202, "{}", drain.text());
    let readyz = format!("{}/readyz", server.ops_url);
    wait_for("readiness to go false", Duration::from_secs(5), || {
        (request("GET", &readyz, &[], "").status == 503).then_some(())
    });
    match early.request_publish(stream_id, &server.stream_key, until) {
        Ok(status) => {
            let key = &server.stream_key;
            check_refusal(&status, stream_id, &codes, "draining", key, &mut problems);
        }
        Err(why) => problems
            .0
            .push(format!("raw client connected before the drain: {why}")),
    }

    // Broadcasters connecting during the drain.
    refused_everywhere(
        &server,
        &server.stream_key,
        &codes,
        "draining",
        &mut problems,
    );
    check_key_not_logged(&server, &server.stream_key, &mut problems);
    problems.assert_none();
}

#[test]
fn playing_a_missing_stream_shows_its_reason_in_rtmpdump_and_ffmpeg() {
    installed("rtmpdump");
    let server = dev().start();
    let url = format!("{}/nosuchstream", server.rtmp_server);

    let mut command = Command::new("rtmpdump");
    command.args(["--debug", "--live", "-r", &url, "-o", "/dev/null"]);
    let output = run_bounded(command, 20);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let statuses = librtmp_statuses(&printed);
    let not_found = statuses
        .iter()
        .find(|s| s.code == "NetStream.Play.StreamNotFound" && !s.description.is_empty());
    let Some(not_found) = not_found else {
        panic!(
            "rtmpdump shows no StreamNotFound with a reason: {statuses:?}\n{}",
            tail(&printed)
        );
    };

    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-v", "error", "-i", &url, "-f", "null", "-"]);
    let ffmpeg = String::from_utf8_lossy(&run_bounded(command, 20).stderr).into_owned();
    assert!(
        ffmpeg.contains(&not_found.description),
        "ffmpeg shows no {:?}: {ffmpeg}",
        not_found.description
    );
}

#[test]
fn librtmp_statuses_pairs_each_code_with_the_description_dumped_before_it() {
    // As GStreamer's `rtmp` category prints librtmp's debug log (rtmpdump prints the same
    // lines after `DEBUG: `).
    let output = "\
rtmp :0:: Property: <Name:        description, STRING:\tSuccessfully connected on app: live>
rtmp :0:: HandleInvoke, server invoking <_result>
rtmp :0:: Property: <Name:           no-name., STRING:\tonStatus>
rtmp :0:: Property: <Name:               code, STRING:\tNetStream.Publish.BadName>
rtmp :0:: Property: <Name:        description, STRING:\tstream abc is already live>
rtmp :0:: HandleInvoke, server invoking <onStatus>
rtmp :0:: HandleInvoke, onStatus: NetStream.Publish.BadName
";
    assert_eq!(
        librtmp_statuses(output),
        [LibrtmpStatus {
            code: "NetStream.Publish.BadName".into(),
            description: "stream abc is already live".into(),
        }]
    );
}
