//! The server side of the RTMP handshake, framed by us: exactly C0+C1 (1 + 1536 bytes), then
//! exactly C2 (1536 bytes), never more, so what follows C2 stays on the socket for the chunk
//! reader. The response (S0+S1+S2, with the digest that Flash-era clients check) is computed
//! by `rml_rtmp`'s handshake, which only ever sees input of these sizes.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};

use crate::RtmpError;

/// Bytes of C0 and C1.
pub const C0_C1_LEN: usize = 1 + PACKET_LEN;
/// Bytes of C2.
pub const C2_LEN: usize = PACKET_LEN;
const PACKET_LEN: usize = 1536;
/// The only protocol version served: plain RTMP (6 is RTMPE, encrypted, not supported).
const VERSION: u8 = 3;

/// One server handshake: [`ServerHandshake::respond`] to C0+C1, then
/// [`ServerHandshake::finish`] with C2.
pub struct ServerHandshake {
    inner: Handshake,
}

impl Default for ServerHandshake {
    fn default() -> Self {
        Self {
            inner: Handshake::new(PeerType::Server),
        }
    }
}

impl ServerHandshake {
    /// Checks C0, the version byte, which arrives first: a peer that is not an RTMP client
    /// (an HTTP request, a scanner) is refused without waiting for C1.
    pub fn check_version(c0: u8) -> Result<(), RtmpError> {
        if c0 == VERSION {
            return Ok(());
        }
        Err(RtmpError::Handshake(
            format!("unsupported rtmp version {c0}").into(),
        ))
    }

    /// S0+S1+S2 for the client's C0+C1.
    pub fn respond(&mut self, c0_c1: &[u8; C0_C1_LEN]) -> Result<Vec<u8>, RtmpError> {
        Self::check_version(c0_c1[0])?;
        match self.process(c0_c1)? {
            HandshakeProcessResult::InProgress { response_bytes } => Ok(response_bytes),
            HandshakeProcessResult::Completed { .. } => {
                Err(RtmpError::Handshake("handshake completed before C2".into()))
            }
        }
    }

    /// Checks the client's C2.
    pub fn finish(&mut self, c2: &[u8; C2_LEN]) -> Result<(), RtmpError> {
        match self.process(c2)? {
            HandshakeProcessResult::Completed { .. } => Ok(()),
            HandshakeProcessResult::InProgress { .. } => {
                Err(RtmpError::Handshake("handshake incomplete after C2".into()))
            }
        }
    }

    fn process(&mut self, bytes: &[u8]) -> Result<HandshakeProcessResult, RtmpError> {
        match catch_unwind(AssertUnwindSafe(|| self.inner.process_bytes(bytes))) {
            Ok(Ok(progress)) => Ok(progress),
            Ok(Err(error)) => Err(RtmpError::Handshake(Box::new(error))),
            Err(_) => Err(RtmpError::ParserPanicked),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_client_handshake_completes() {
        let mut client = Handshake::new(PeerType::Client);
        let c0_c1 = client.generate_outbound_p0_and_p1().unwrap();
        let mut server = ServerHandshake::default();
        let response = server.respond(&c0_c1.clone().try_into().unwrap()).unwrap();
        assert_eq!(response.len(), 1 + 2 * PACKET_LEN);
        let HandshakeProcessResult::Completed { response_bytes, .. } =
            client.process_bytes(&response).unwrap()
        else {
            panic!("client did not complete");
        };
        server.finish(&response_bytes.try_into().unwrap()).unwrap();
    }

    #[test]
    fn other_versions_are_refused() {
        let mut c0_c1 = [0u8; C0_C1_LEN];
        c0_c1[0] = 6;
        assert!(matches!(
            ServerHandshake::default().respond(&c0_c1),
            Err(RtmpError::Handshake(_))
        ));
    }

    #[test]
    fn garbage_after_c0_gets_an_answer_or_an_error_never_a_panic() {
        let mut c0_c1 = [0xA5u8; C0_C1_LEN];
        c0_c1[0] = VERSION;
        let mut server = ServerHandshake::default();
        if server.respond(&c0_c1).is_ok() {
            let outcome = server.finish(&[0x5A; C2_LEN]);
            assert!(!matches!(outcome, Err(RtmpError::ParserPanicked)));
        }
    }
}
