//! [`DiskIndex`] keeps every acknowledged write across a SIGKILL of the process that made it:
//! a child process (this test binary, running the ignored `writer` test) writes, says so, and
//! is killed by PID; the parent then opens the same file.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferrocast_base::{Epoch, Msn, StreamId};
use ferrocast_store::{DiskIndex, SegmentIndex, SegmentRecord};
use ferrocast_testkit::TempDir;

/// Where the child writes (test-harness variable; not a `FERROCAST_` setting).
const CHILD_PATH_VAR: &str = "STORE_TEST_DISK_INDEX_PATH";
/// What the child prints once every write returned.
const WRITTEN: &str = "disk-index-written";

fn record(msn: u64) -> SegmentRecord {
    SegmentRecord {
        msn: Msn(msn),
        epoch: Epoch(4),
        seq: msn,
        duration_ms: 2000,
        bytes: 1000,
        program_date_time_ms: 0,
        listed_at_ms: 0,
        cmaf: Default::default(),
        discontinuity: false,
    }
}

/// The child: writes a session of three segments, reports, then waits to be killed.
#[tokio::test]
#[ignore = "run by `disk_index_survives_a_kill` in a child process"]
async fn writer() {
    let path = PathBuf::from(std::env::var(CHILD_PATH_VAR).unwrap());
    let index = DiskIndex::open(&path).unwrap();
    let st = &StreamId::new("st");
    index.open_session(st, Epoch(4)).await.unwrap();
    for msn in 0..3 {
        index.append(st, record(msn), 10).await.unwrap();
    }
    println!("{WRITTEN}");
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn disk_index_survives_a_kill() {
    let dir = TempDir::new();
    let path = dir.path().join("index.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "writer",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_PATH_VAR, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (written, wait_written) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints "test writer ... " first, on the same line.
            if line.trim_end().ends_with(WRITTEN) {
                let _ = written.send(());
            }
        }
    });
    let reported = wait_written.recv_timeout(Duration::from_secs(30));
    child.kill().unwrap(); // SIGKILL, by PID
    child.wait().unwrap();
    reported.expect("the child did not report its writes within 30 s");

    let index = DiskIndex::open(&path).unwrap();
    let st = &StreamId::new("st");
    let state = index.load(st).await.unwrap().unwrap();
    assert_eq!(state.segments, vec![record(0), record(1), record(2)]);
    assert_eq!((state.epoch, state.generation), (Epoch(4), Epoch(4)));
    let next = index.open_session(st, Epoch(5)).await.unwrap();
    assert_eq!((next.next_msn, next.discontinuity), (Msn(3), true));
}
