//! Admission of an accepted RTMP connection, before any RTMP byte is read: the PROXY
//! protocol header when it is on (it names the client), then the per-address cap. A refused
//! connection is closed at once, counted, and logged at most once per interval.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::per_address::{AddressSlot, PerAddressLimit, address_group};
use crate::{RtmpServerConfig, metrics};
use ferrocast_ops::throttle::Throttle;
use ferrocast_rtmp::proxy::{self, Accept};

/// At most one log line per this, for each kind of refusal.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The admission policy of one RTMP listener.
#[derive(Debug)]
pub(crate) struct Admission {
    proxy: Option<Accept>,
    header_timeout: Duration,
    per_address: Option<Arc<PerAddressLimit>>,
    per_address_limit: usize,
    refusals_log: Mutex<Throttle>,
    header_failures_log: Mutex<Throttle>,
}

/// A connection let in.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// The client: the PROXY protocol header's source, else the socket's peer.
    pub(crate) client: SocketAddr,
    /// Whether a PROXY protocol header preceded the connection's bytes.
    pub(crate) proxied: bool,
    /// The connection's place under its address's cap, freed when it ends.
    _place: Option<AddressSlot>,
}

impl Admission {
    pub(crate) fn new(config: &RtmpServerConfig) -> Self {
        let limit = config.max_connections_per_ip;
        Self {
            proxy: config.proxy_protocol.accepted(),
            header_timeout: config.proxy_header_timeout,
            per_address: (limit > 0).then(|| PerAddressLimit::new(limit)),
            per_address_limit: limit,
            refusals_log: Mutex::new(Throttle::new(LOG_INTERVAL)),
            header_failures_log: Mutex::new(Throttle::new(LOG_INTERVAL)),
        }
    }

    /// Reads the PROXY protocol header if one is expected and applies the per-address cap.
    /// `None` means the connection is refused; dropping the socket closes it.
    pub(crate) async fn admit(&self, socket: &mut TcpStream, peer: SocketAddr) -> Option<Admitted> {
        let client = match self.proxy {
            None => peer,
            Some(accept) => self.client_from_header(socket, peer, accept).await?,
        };
        let place = match &self.per_address {
            None => None,
            Some(table) => Some(self.place_for(table, client)?),
        };
        Some(Admitted {
            client,
            proxied: self.proxy.is_some(),
            _place: place,
        })
    }

    async fn client_from_header(
        &self,
        socket: &mut TcpStream,
        peer: SocketAddr,
        accept: Accept,
    ) -> Option<SocketAddr> {
        let failure = match timeout(self.header_timeout, proxy::read_header(socket, accept)).await {
            // LOCAL (a load balancer's health check) and UNKNOWN name no client: the socket's
            // peer is the one connecting.
            Ok(Ok(header)) => return Some(header.source.unwrap_or(peer)),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no header within {:?}", self.header_timeout),
        };
        metrics::proxy_header_failed();
        if let Some(closed) = record(&self.header_failures_log) {
            tracing::warn!(%peer, error = %failure, closed, "rtmp connection closed: no valid proxy protocol header");
        }
        None
    }

    fn place_for(&self, table: &Arc<PerAddressLimit>, client: SocketAddr) -> Option<AddressSlot> {
        let place = table.try_admit(client.ip());
        if place.is_none() {
            metrics::connection_refused_per_address();
            if let Some(refused) = record(&self.refusals_log) {
                let address = address_group(client.ip());
                tracing::warn!(%address, limit = self.per_address_limit, refused, "rtmp connection refused: per-address limit reached");
            }
        }
        place
    }
}

fn record(throttle: &Mutex<Throttle>) -> Option<u64> {
    throttle
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(Instant::now())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::ProxyProtocol;

    /// A connected pair: the client's end and the server's, with the client's address.
    async fn connection() -> (TcpStream, TcpStream, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        (client, server, peer)
    }

    fn config(proxy_protocol: ProxyProtocol, per_ip: usize) -> RtmpServerConfig {
        RtmpServerConfig {
            proxy_protocol,
            max_connections_per_ip: per_ip,
            ..RtmpServerConfig::default()
        }
    }

    #[tokio::test]
    async fn the_header_names_the_client_and_local_leaves_the_socket_peer() {
        let admission = Admission::new(&config(ProxyProtocol::Any, 16));
        let (mut client, mut server, peer) = connection().await;
        client
            .write_all(b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 1935\r\n")
            .await
            .unwrap();
        let admitted = admission.admit(&mut server, peer).await.unwrap();
        assert_eq!(admitted.client, "203.0.113.7:40000".parse().unwrap());
        assert!(admitted.proxied);

        let (mut client, mut server, peer) = connection().await;
        let mut local = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        local.extend([0x20, 0x00, 0, 0]);
        client.write_all(&local).await.unwrap();
        let admitted = admission.admit(&mut server, peer).await.unwrap();
        assert_eq!(admitted.client, peer);
    }

    #[tokio::test(start_paused = true)]
    async fn no_header_by_the_deadline_is_refused() {
        let admission = Admission::new(&config(ProxyProtocol::V2, 16));
        let (_client, mut server, peer) = connection().await;
        let started = tokio::time::Instant::now();
        assert!(admission.admit(&mut server, peer).await.is_none());
        assert!(started.elapsed() >= RtmpServerConfig::default().proxy_header_timeout);
    }

    #[tokio::test]
    async fn the_cap_counts_addresses_from_the_header_not_the_socket() {
        let admission = Admission::new(&config(ProxyProtocol::V1, 1));
        let mut held = Vec::new();
        for (client_address, admitted) in [
            ("203.0.113.7", true),
            ("203.0.113.7", false),
            ("198.51.100.9", true),
        ] {
            let (mut client, mut server, peer) = connection().await;
            let header = format!("PROXY TCP4 {client_address} 10.0.0.1 40000 1935\r\n");
            client.write_all(header.as_bytes()).await.unwrap();
            let result = admission.admit(&mut server, peer).await;
            assert_eq!(result.is_some(), admitted, "{client_address}");
            held.push(result);
        }
        held.clear();
        let (mut client, mut server, peer) = connection().await;
        client
            .write_all(b"PROXY TCP4 203.0.113.7 10.0.0.1 40000 1935\r\n")
            .await
            .unwrap();
        assert!(
            admission.admit(&mut server, peer).await.is_some(),
            "a place is free again once its connection ended"
        );
    }

    #[tokio::test]
    async fn without_proxy_protocol_the_socket_address_is_capped() {
        let admission = Admission::new(&config(ProxyProtocol::Off, 2));
        let mut admitted = Vec::new();
        for _ in 0..3 {
            let (_client, mut server, peer) = connection().await;
            admitted.push(admission.admit(&mut server, peer).await);
        }
        let let_in = admitted.iter().filter(|a| a.is_some()).count();
        assert_eq!(let_in, 2, "two from 127.0.0.1, the third refused");
        let unlimited = Admission::new(&config(ProxyProtocol::Off, 0));
        for _ in 0..50 {
            let (_client, mut server, peer) = connection().await;
            assert!(unlimited.admit(&mut server, peer).await.is_some());
        }
    }
}
