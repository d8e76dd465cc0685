//! The PROXY header reader against hand-made and `ppp`-built headers: both versions, both
//! address families, LOCAL, TLVs, and everything that must be refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use ppp::v2::{Builder, Command, IPv4, IPv6, Protocol, Type, Version as PppVersion};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::*;

/// What an RTMP client sends first (C0 and the start of C1): must stay in the socket.
const RTMP_START: &[u8] = &[3, 0, 0, 0, 0, 0, 0, 0, 0];

fn v2_ipv4(source: &str, destination: &str) -> Vec<u8> {
    let (source, destination): (SocketAddr, SocketAddr) =
        (source.parse().unwrap(), destination.parse().unwrap());
    Builder::with_addresses(
        PppVersion::Two | Command::Proxy,
        Protocol::Stream,
        (source, destination),
    )
    .build()
    .unwrap()
}

/// A v2 header written out by hand, byte by byte from the specification, so the parser is
/// not only checked against the library that implements it.
fn v2_by_hand() -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend([0x21, 0x11, 0, 12]); // v2 PROXY, TCP over IPv4, 12 address bytes
    header.extend([203, 0, 113, 7, 10, 0, 0, 1]);
    header.extend(40000u16.to_be_bytes());
    header.extend(1935u16.to_be_bytes());
    header
}

fn complete(bytes: &[u8], accept: Accept) -> Header {
    match parse(bytes, accept) {
        Ok(Progress::Complete(header)) => header,
        other => panic!("expected a complete header, got {other:?}"),
    }
}

fn with_rtmp_after(header: &[u8]) -> Vec<u8> {
    [header, RTMP_START].concat()
}

#[test]
fn v1_tcp4_gives_the_client_address_and_ends_at_crlf() {
    let text = b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 1935\r\n";
    let header = complete(&with_rtmp_after(text), Accept::V1);
    assert_eq!(header.version, Version::V1);
    assert_eq!(header.length, text.len());
    assert_eq!(header.source, Some("203.0.113.7:40000".parse().unwrap()));
}

#[test]
fn v1_tcp6_and_unknown() {
    let text = b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 1935\r\n";
    let header = complete(text, Accept::Any);
    assert_eq!(header.source, Some("[2001:db8::7]:40000".parse().unwrap()));
    let unknown = b"PROXY UNKNOWN\r\n";
    let header = complete(&with_rtmp_after(unknown), Accept::Any);
    assert_eq!((header.length, header.source), (unknown.len(), None));
}

#[test]
fn v2_ipv4_by_hand_and_from_the_library() {
    let header = complete(&with_rtmp_after(&v2_by_hand()), Accept::V2);
    assert_eq!(header.version, Version::V2);
    assert_eq!(header.length, 28);
    assert_eq!(header.source, Some("203.0.113.7:40000".parse().unwrap()));
    let built = v2_ipv4("198.51.100.9:5000", "10.0.0.1:1935");
    let header = complete(&built, Accept::Any);
    assert_eq!(header.source, Some("198.51.100.9:5000".parse().unwrap()));
}

#[test]
fn v2_ipv6() {
    let addresses = IPv6::new(
        "2001:db8::7".parse::<std::net::Ipv6Addr>().unwrap(),
        "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap(),
        40000,
        1935,
    );
    let bytes = Builder::with_addresses(
        PppVersion::Two | Command::Proxy,
        Protocol::Stream,
        addresses,
    )
    .build()
    .unwrap();
    let header = complete(&with_rtmp_after(&bytes), Accept::V2);
    assert_eq!(header.length, 16 + 36);
    assert_eq!(header.source, Some("[2001:db8::7]:40000".parse().unwrap()));
}

#[test]
fn v2_local_is_accepted_without_an_address() {
    // A load balancer's own health check: LOCAL, family unspecified, nothing after.
    let mut bytes = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    bytes.extend([0x20, 0x00, 0, 0]);
    let header = complete(&with_rtmp_after(&bytes), Accept::V2);
    assert_eq!((header.length, header.source), (16, None));
    // LOCAL may still carry addresses; they are not the client's and are ignored.
    let mut with_addresses = v2_ipv4("198.51.100.9:5000", "10.0.0.1:1935");
    with_addresses[12] = 0x20;
    assert_eq!(complete(&with_addresses, Accept::V2).source, None);
}

#[test]
fn v2_tlvs_are_part_of_the_header_and_skipped() {
    // What AWS and Azure append: an endpoint or link id, here as custom TLVs, plus a NOOP.
    let addresses = IPv4::new([203, 0, 113, 7], [10, 0, 0, 1], 40000, 1935);
    let bytes = Builder::with_addresses(
        PppVersion::Two | Command::Proxy,
        Protocol::Stream,
        addresses,
    )
    .write_tlv(0xEA, b"\x01vpce-0123456789abcdef0".as_slice())
    .unwrap()
    .write_tlv(0xEE, &[1, 0x2a, 0, 0, 0])
    .unwrap()
    .write_tlv(Type::NoOp, &[0; 7])
    .unwrap()
    .build()
    .unwrap();
    let header = complete(&with_rtmp_after(&bytes), Accept::Any);
    assert_eq!(header.length, bytes.len());
    assert_eq!(header.source, Some("203.0.113.7:40000".parse().unwrap()));
}

/// Every prefix of a header asks for more, and never for more than the header still lacks:
/// the property that keeps the RTMP handshake in the socket.
#[test]
fn truncated_headers_ask_for_more_without_reaching_past_the_header() {
    let headers: Vec<Vec<u8>> = vec![
        b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 1935\r\n".to_vec(),
        b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 1935\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2_by_hand(),
    ];
    for header in headers {
        for accept in [Accept::Any, Accept::V1, Accept::V2] {
            let is_v2 = header.starts_with(b"\r\n");
            if (is_v2 && accept == Accept::V1) || (!is_v2 && accept == Accept::V2) {
                continue;
            }
            for cut in 0..header.len() {
                match parse(&header[..cut], accept) {
                    Ok(Progress::Incomplete { at_least }) => assert!(
                        at_least >= 1 && cut + at_least <= header.len(),
                        "{accept:?} {:?} cut at {cut} asks for {at_least}",
                        String::from_utf8_lossy(&header)
                    ),
                    other => panic!("cut at {cut} of {header:?}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn oversized_headers_are_refused() {
    let mut announced = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    announced.extend([0x21, 0x11]);
    announced.extend(((MAX_V2_PAYLOAD + 1) as u16).to_be_bytes());
    assert_eq!(
        parse(&announced, Accept::V2),
        Err(ProxyError::TooLong { limit: MAX_HEADER })
    );
    let mut endless = b"PROXY UNKNOWN ".to_vec();
    endless.resize(MAX_V1_HEADER, b'a');
    assert_eq!(
        parse(&endless, Accept::V1),
        Err(ProxyError::TooLong {
            limit: MAX_V1_HEADER
        })
    );
    let mut long_line = endless.clone();
    long_line.extend(b"\r\n");
    assert!(matches!(
        parse(&long_line, Accept::V1),
        Err(ProxyError::TooLong { .. })
    ));
}

#[test]
fn garbage_and_other_protocols_are_refused_early() {
    // An RTMP client that does not know it is behind a proxy: refused on its first byte.
    assert_eq!(parse(&[3], Accept::Any), Err(ProxyError::Missing));
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\n", Accept::Any),
        Err(ProxyError::Missing)
    );
    assert_eq!(parse(b"PROXZ", Accept::Any), Err(ProxyError::Missing));
    let bad_port = b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n";
    assert!(matches!(
        parse(bad_port, Accept::V1),
        Err(ProxyError::Malformed(_))
    ));
    // Known to be wrong before the line ends: binary bytes, a made-up protocol.
    let binary = b"PROXY TCP4 1.2.3.4\x00";
    assert!(matches!(
        parse(binary, Accept::V1),
        Err(ProxyError::Malformed(_))
    ));
    assert!(matches!(
        parse(b"PROXY UDP", Accept::V1),
        Err(ProxyError::Malformed(_))
    ));
    assert!(matches!(
        parse(b"PROXY TCP44", Accept::V1),
        Err(ProxyError::Malformed(_))
    ));
    assert!(matches!(
        parse(b"PROXY TCP4\r\n", Accept::V1),
        Err(ProxyError::Malformed(_))
    ));
    let mut bad_version = v2_by_hand();
    bad_version[12] = 0x11;
    assert!(matches!(
        parse(&bad_version, Accept::V2),
        Err(ProxyError::Malformed(_))
    ));
    let mut bad_command = v2_by_hand();
    bad_command[12] = 0x2F;
    assert!(matches!(
        parse(&bad_command, Accept::V2),
        Err(ProxyError::Malformed(_))
    ));
    let mut short_addresses = v2_by_hand();
    short_addresses[15] = 4; // IPv4 needs 12 address bytes
    short_addresses.truncate(20);
    assert!(matches!(
        parse(&short_addresses, Accept::V2),
        Err(ProxyError::Malformed(_))
    ));
}

#[test]
fn a_version_not_configured_is_refused() {
    let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 1935\r\n";
    assert_eq!(
        parse(v1, Accept::V2),
        Err(ProxyError::NotAccepted(Version::V1))
    );
    assert_eq!(
        parse(&v2_by_hand(), Accept::V1),
        Err(ProxyError::NotAccepted(Version::V2))
    );
}

/// A reader that hands out its bytes in the pieces given, as a socket whose peer wrote them
/// in separate segments would.
struct Pieces(VecDeque<Vec<u8>>);

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(mut piece) = self.0.pop_front() {
            let taken = piece.len().min(buf.remaining());
            buf.put_slice(&piece[..taken]);
            if taken < piece.len() {
                self.0.push_front(piece.split_off(taken));
            }
        }
        Poll::Ready(Ok(()))
    }
}

async fn rest(reader: &mut Pieces) -> Vec<u8> {
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await.unwrap();
    rest
}

#[tokio::test]
async fn a_header_split_across_reads_leaves_the_bytes_after_it() {
    let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 1935\r\n";
    let splits: Vec<Vec<Vec<u8>>> = vec![
        // Byte by byte, then the handshake.
        v1.iter()
            .map(|b| vec![*b])
            .chain([RTMP_START.to_vec()])
            .collect(),
        // Cut inside an address, with the handshake in the same piece as the end.
        vec![v1[..17].to_vec(), with_rtmp_after(&v1[17..])],
        // Cut between CR and LF.
        vec![v1[..v1.len() - 1].to_vec(), with_rtmp_after(b"\n")],
    ];
    for pieces in splits {
        let mut reader = Pieces(pieces.into());
        let header = read_header(&mut reader, Accept::Any).await.unwrap();
        assert_eq!(header.source, Some("203.0.113.7:40000".parse().unwrap()));
        assert_eq!(rest(&mut reader).await, RTMP_START);
    }
    let v2 = v2_by_hand();
    let mut reader = Pieces(
        vec![
            v2[..5].to_vec(),
            v2[5..14].to_vec(),
            with_rtmp_after(&v2[14..]),
        ]
        .into(),
    );
    let header = read_header(&mut reader, Accept::Any).await.unwrap();
    assert_eq!(header.length, v2.len());
    assert_eq!(rest(&mut reader).await, RTMP_START);
}

#[tokio::test]
async fn a_peer_that_closes_early_or_sends_garbage_gets_an_error() {
    let mut closed = Pieces(vec![b"PROXY TCP4 1.2".to_vec()].into());
    assert!(matches!(
        read_header(&mut closed, Accept::Any).await,
        Err(ReadError::Closed)
    ));
    let mut rtmp = Pieces(vec![RTMP_START.to_vec()].into());
    assert!(matches!(
        read_header(&mut rtmp, Accept::Any).await,
        Err(ReadError::Proxy(ProxyError::Missing))
    ));
}

/// On a real socket the whole header and the handshake arrive together; only the header may
/// be taken.
#[tokio::test]
async fn a_socket_keeps_the_handshake_after_the_header() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let sent = with_rtmp_after(&v2_by_hand());
    let client = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        socket.write_all(&sent).await.unwrap();
        socket.shutdown().await.unwrap();
    });
    let (mut socket, _) = listener.accept().await.unwrap();
    client.await.unwrap();
    let header = read_header(&mut socket, Accept::V2).await.unwrap();
    assert_eq!(header.source, Some("203.0.113.7:40000".parse().unwrap()));
    let mut rest = Vec::new();
    socket.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, RTMP_START);
}
