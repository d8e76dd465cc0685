//! The harness itself: each server comes up, answers, and is gone after drop; a stopped
//! Redis can be replaced on its port; temp dirs and free ports behave.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use ferrocast_testkit::{RedisServer, S3Server, TempDir, free_port};

/// Sends one inline command and reads a reply as long as `expected`.
fn redis_reply(port: u16, command: &str, expected: &str) -> String {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    socket
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut reply = vec![0u8; expected.len()];
    socket.read_exact(&mut reply).unwrap();
    String::from_utf8(reply).unwrap()
}

/// Asserts that `command` gets the reply `expected`.
fn assert_redis(port: u16, command: &str, expected: &str) {
    assert_eq!(redis_reply(port, command, expected), expected, "{command}");
}

#[test]
fn free_ports_can_be_bound() {
    let port = free_port();
    assert_ne!(port, 0);
    TcpListener::bind(("127.0.0.1", port)).unwrap();
}

#[test]
fn temp_dirs_are_fresh_and_removed_on_drop() {
    let (a, b) = (TempDir::new(), TempDir::new());
    assert_ne!(a.path(), b.path());
    std::fs::write(a.path().join("file"), b"x").unwrap();
    let path = a.path().to_owned();
    drop(a);
    assert!(!path.exists());
    assert!(b.path().is_dir());
}

#[test]
fn redis_answers_without_persistence_and_restarts_on_its_port() {
    let mut server = RedisServer::start();
    let port = server.port();
    assert_eq!(server.url(), format!("redis://127.0.0.1:{port}"));
    assert_redis(port, "PING", "+PONG\r\n");
    assert_redis(port, "SET k v", "+OK\r\n");
    let no = "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n";
    assert_redis(port, "CONFIG GET appendonly", no);
    assert_redis(port, "CONFIG GET save", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");

    server.stop();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "stopped");
    let restarted = RedisServer::start_on(port).expect("restart on the same port");
    assert_redis(port, "EXISTS k", ":0\r\n"); // a fresh, empty server
    drop(restarted);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "killed on drop"
    );
}

#[test]
fn s3_serves_its_bucket_until_dropped() {
    let server = S3Server::start();
    let config = server.config();
    assert_eq!(
        config.endpoint,
        format!("http://127.0.0.1:{}", server.port())
    );
    assert_eq!(config.endpoint, server.endpoint());
    assert_eq!(config.bucket, S3Server::BUCKET);
    assert_eq!(
        (
            config.access_key_id.as_str(),
            config.secret_access_key.as_str()
        ),
        (S3Server::ACCESS_KEY_ID, S3Server::SECRET_ACCESS_KEY)
    );
    assert!(server.root().join(S3Server::BUCKET).is_dir());
    TcpStream::connect(("127.0.0.1", server.port())).unwrap();

    let (port, root) = (server.port(), server.root().to_owned());
    drop(server);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "killed on drop"
    );
    assert!(!root.exists(), "its root removed");
}
