//! A TCP listener whose connections fail a write that makes no progress for too long, so a
//! viewer that stops reading is cut instead of holding its connection forever.

use std::pin::Pin;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;

/// Accepts connections with a write deadline.
pub struct StallCutting {
    inner: TcpListener,
    write_timeout: Duration,
}

impl StallCutting {
    /// Wraps `inner`.
    pub fn new(inner: TcpListener, write_timeout: Duration) -> Self {
        Self {
            inner,
            write_timeout,
        }
    }
}

impl axum::serve::Listener for StallCutting {
    type Io = Pin<Box<TimeoutStream<TcpStream>>>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((socket, peer)) => {
                    // Live media is latency-bound: do not let Nagle hold back small tags.
                    let _ = socket.set_nodelay(true);
                    let mut stream = TimeoutStream::new(socket);
                    stream.set_write_timeout(Some(self.write_timeout));
                    return (Box::pin(stream), peer);
                }
                Err(error) => {
                    tracing::warn!(%error, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
