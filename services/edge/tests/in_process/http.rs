//! The HTTP side of the tests: hyper's HTTP/1 client over one connection per request, and
//! an HTTP-FLV viewer that reads the response body as an FLV stream.

use std::time::Duration;

use bytes::Bytes;
use ferrocast_media::flv::{self, Tag};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use crate::support::{ANSWER_WITHIN, Edge, frame_number};

impl Edge {
    /// Sends `GET path` on a new connection: the response, its body not read yet.
    pub async fn open(&self, path: &str) -> Response<Incoming> {
        self.open_with("GET", path, &[]).await
    }

    /// Sends `method path` with `headers` on a new connection: the response, its body not
    /// read yet.
    pub async fn open_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response<Incoming> {
        let socket = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(socket))
            .await
            .unwrap();
        // Drives the connection; it ends with the response or the server's close.
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "edge.test");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Empty::<Bytes>::new()).unwrap();
        let answer = timeout(ANSWER_WITHIN, sender.send_request(request)).await;
        answer.expect("an answer in time").unwrap()
    }

    /// `GET path`, read whole.
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[]).await
    }

    /// `method path` with `headers`, read whole.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        read(self.open_with(method, path, headers).await).await
    }
}

/// Reads a response whole.
pub async fn read(response: Response<Incoming>) -> Reply {
    let (parts, body) = response.into_parts();
    let body = timeout(ANSWER_WITHIN, body.collect()).await;
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.expect("the whole body in time").unwrap().to_bytes(),
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl Reply {
    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        let value = self.headers.get(name);
        value
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a text body")
    }
}

/// An HTTP-FLV viewer: the response body read as an FLV stream.
pub struct FlvViewer {
    body: Incoming,
    tags: flv::Reader,
    /// The first 13 bytes: the FLV file header and the first previous tag size.
    pub file_header: Vec<u8>,
}

impl FlvViewer {
    /// Opens `/live/{playback_id}.flv` and reads the file header; panics unless it is 200.
    pub async fn open(edge: &Edge, playback_id: &str) -> Self {
        let response = edge.open(&format!("/live/{playback_id}.flv")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "video/x-flv");
        let mut viewer = Self {
            body: response.into_body(),
            tags: flv::Reader::new(),
            file_header: Vec::new(),
        };
        while viewer.file_header.len() < flv::FILE_HEADER_LEN {
            let chunk = viewer.next_chunk().await.expect("the file header");
            viewer.file_header.extend_from_slice(&chunk);
            viewer.tags.push(&chunk);
        }
        viewer.file_header.truncate(flv::FILE_HEADER_LEN);
        viewer
    }

    /// The next body chunk; `None` when the response ended (or the connection closed).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let until = Instant::now() + ANSWER_WITHIN;
        loop {
            let frame = timeout_at(until, self.body.frame()).await;
            match frame.expect("a body chunk in time") {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => return Some(data),
                    Err(_) => continue,
                },
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next tag; panics if the stream ends first.
    pub async fn next_tag(&mut self) -> Tag {
        loop {
            if let Some(tag) = self.tags.next_tag().expect("valid FLV") {
                return tag;
            }
            let chunk = self.next_chunk().await.expect("more tags, not the end");
            self.tags.push(&chunk);
        }
    }

    /// Reads tags up to and with video frame `last`; the video ones, in order.
    pub async fn video_until(&mut self, last: u32) -> Vec<Tag> {
        let mut video = Vec::new();
        loop {
            let tag = self.next_tag().await;
            if tag.tag_type != flv::TagType::Video {
                continue;
            }
            let done = frame_number(&tag.body) == Some(last);
            video.push(tag);
            if done {
                return video;
            }
        }
    }

    /// Reads until the response ends: when it did. Panics if it goes on past `limit`.
    pub async fn ended_within(&mut self, limit: Duration) -> Instant {
        let until = Instant::now() + limit;
        loop {
            match timeout_at(until, self.body.frame()).await {
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return Instant::now(),
                Err(_) => panic!("the viewer was still served {limit:?} later"),
            }
        }
    }
}
