//! Reads a PROXY protocol header from a socket: exactly the header's bytes, so what follows
//! (the RTMP handshake) stays in the socket for the connection.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::parse::{Accept, Header, MAX_HEADER, Progress, ProxyError, parse};

/// Why no header could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The bytes are not an acceptable header.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The peer closed the connection before the header was complete.
    #[error("connection closed before the PROXY protocol header was complete")]
    Closed,
    /// Reading failed.
    #[error("reading the PROXY protocol header: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one header from `reader`. Each read asks for no more than the parser says the header
/// still lacks, so nothing after the header is consumed. The caller bounds the time.
pub async fn read_header<R: AsyncRead + Unpin>(
    reader: &mut R,
    accept: Accept,
) -> Result<Header, ReadError> {
    let mut buffer = [0u8; MAX_HEADER];
    let mut filled = 0;
    loop {
        let at_least = match parse(&buffer[..filled], accept)? {
            Progress::Complete(header) => return Ok(header),
            Progress::Incomplete { at_least } => at_least,
        };
        // The parser bounds every header by MAX_HEADER, so this stays inside the buffer.
        let end = (filled + at_least).min(MAX_HEADER);
        debug_assert!(
            end > filled,
            "an incomplete header always needs a byte more"
        );
        let read = reader.read(&mut buffer[filled..end]).await?;
        if read == 0 {
            return Err(ReadError::Closed);
        }
        filled += read;
    }
}
