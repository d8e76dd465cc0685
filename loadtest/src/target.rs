//! Where load goes: URL templates expanded per stream, parsed into socket addresses, and
//! refused unless the host is on loopback (127.0.0.0/8 or ::1). This tool never resolves a
//! name: `localhost` means 127.0.0.1, anything else must be an address literal.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use http::Uri;

/// A URL this tool will not use.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The text is not a URL of the expected scheme.
    #[error("bad {scheme} URL {url:?}: {reason}")]
    BadUrl {
        /// `rtmp` or `http`.
        scheme: &'static str,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The host is not a loopback address.
    #[error(
        "refusing non-loopback target {host:?} in {url:?}: ferrocast-loadtest only sends \
         traffic to 127.0.0.0/8 and ::1 (or localhost)"
    )]
    NotLoopback {
        /// The host as written.
        host: String,
        /// The URL as given.
        url: String,
    },
}

/// Replaces `{key}`, `{id}` and `{name}` in `template` with `value`.
pub fn expand(template: &str, value: &str) -> String {
    template
        .replace("{key}", value)
        .replace("{id}", value)
        .replace("{name}", value)
}

/// Whether `template` has a placeholder for [`expand`].
pub fn has_placeholder(template: &str) -> bool {
    ["{key}", "{id}", "{name}"]
        .iter()
        .any(|placeholder| template.contains(placeholder))
}

/// An RTMP URL split the way servers read it: `rtmp://host[:port]/app/stream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpTarget {
    /// The server address.
    pub addr: SocketAddr,
    /// The application (first path segment).
    pub app: String,
    /// The stream key or name (the rest of the path, with any query).
    pub stream: String,
    /// `rtmp://host:port/app`, sent as `tcUrl`.
    pub tc_url: String,
}

/// An HTTP URL on loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// The server address.
    pub addr: SocketAddr,
    /// The `Host` header value.
    pub authority: String,
    /// The request target (origin form).
    pub path_and_query: String,
}

/// Parses and checks an RTMP URL.
pub fn rtmp(url: &str) -> Result<RtmpTarget, TargetError> {
    let bad = |reason| TargetError::BadUrl {
        scheme: "rtmp",
        url: url.to_owned(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|_| bad("does not parse"))?;
    if uri.scheme_str() != Some("rtmp") {
        return Err(bad("scheme is not rtmp"));
    }
    let addr = loopback(&uri, url, 1935)?;
    let path = uri.path().trim_start_matches('/');
    let (app, name) = path.split_once('/').ok_or(bad("needs /app/stream"))?;
    if app.is_empty() || name.is_empty() {
        return Err(bad("needs /app/stream"));
    }
    let stream = match uri.query() {
        Some(query) => format!("{name}?{query}"),
        None => name.to_owned(),
    };
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    Ok(RtmpTarget {
        addr,
        app: app.to_owned(),
        stream,
        tc_url: format!("rtmp://{authority}/{app}"),
    })
}

/// Parses and checks an HTTP URL.
pub fn http(url: &str) -> Result<HttpTarget, TargetError> {
    let bad = |reason| TargetError::BadUrl {
        scheme: "http",
        url: url.to_owned(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|_| bad("does not parse"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("scheme is not http (no TLS here)"));
    }
    let addr = loopback(&uri, url, 80)?;
    let path_and_query = uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .filter(|pq| !pq.is_empty())
        .unwrap_or("/");
    Ok(HttpTarget {
        addr,
        authority: uri.authority().map(|a| a.to_string()).unwrap_or_default(),
        path_and_query: path_and_query.to_owned(),
    })
}

impl HttpTarget {
    /// Resolves a URI reference found in a playlist against this URL (and checks it).
    pub fn resolve(&self, reference: &str) -> Result<HttpTarget, TargetError> {
        if reference.contains("://") {
            return http(reference);
        }
        let path = if reference.starts_with('/') {
            reference.to_owned()
        } else {
            let base = self.path_and_query.split('?').next().unwrap_or("/");
            let dir = &base[..base.rfind('/').map_or(0, |at| at + 1)];
            format!("{dir}{reference}")
        };
        Ok(HttpTarget {
            addr: self.addr,
            authority: self.authority.clone(),
            path_and_query: path,
        })
    }
}

fn loopback(uri: &Uri, url: &str, default_port: u16) -> Result<SocketAddr, TargetError> {
    let host = uri.host().unwrap_or_default();
    let refuse = || TargetError::NotLoopback {
        host: host.to_owned(),
        url: url.to_owned(),
    };
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        literal.parse::<IpAddr>().map_err(|_| refuse())?
    };
    if !ip.is_loopback() {
        return Err(refuse());
    }
    Ok(SocketAddr::new(ip, uri.port_u16().unwrap_or(default_port)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn splits_rtmp_urls() {
        let target = rtmp("rtmp://127.0.0.1:19350/live/sk_1_abc").unwrap();
        assert_eq!(target.addr, "127.0.0.1:19350".parse().unwrap());
        assert_eq!(
            (target.app.as_str(), target.stream.as_str()),
            ("live", "sk_1_abc")
        );
        assert_eq!(target.tc_url, "rtmp://127.0.0.1:19350/live");
        let default_port = rtmp("rtmp://localhost/app/a/b?token=1").unwrap();
        assert_eq!(default_port.addr, "127.0.0.1:1935".parse().unwrap());
        assert_eq!(default_port.stream, "a/b?token=1");
        let v6 = rtmp("rtmp://[::1]:1935/live/x").unwrap();
        assert_eq!(v6.addr, "[::1]:1935".parse().unwrap());
        assert!(matches!(
            rtmp("rtmp://127.0.0.1/live"),
            Err(TargetError::BadUrl { .. })
        ));
        assert!(matches!(
            rtmp("http://127.0.0.1/a/b"),
            Err(TargetError::BadUrl { .. })
        ));
    }

    #[test]
    fn refuses_every_non_loopback_host() {
        for url in [
            "rtmp://10.0.0.1/live/k",
            "rtmp://192.168.1.2:1935/live/k",
            "rtmp://example.com/live/k",
            "rtmp://0.0.0.0/live/k",
            "rtmp://[::ffff:127.0.0.1]/live/k",
            "rtmp://[2001:db8::1]/live/k",
        ] {
            let refused = rtmp(url).unwrap_err();
            assert!(matches!(refused, TargetError::NotLoopback { .. }), "{url}");
            assert!(refused.to_string().contains("non-loopback"), "{refused}");
        }
        for url in ["http://8.8.8.8/x.flv", "http://localhost.example.org/x"] {
            assert!(
                matches!(http(url), Err(TargetError::NotLoopback { .. })),
                "{url}"
            );
        }
        assert!(rtmp("rtmp://127.3.4.5/live/k").is_ok());
    }

    #[test]
    fn resolves_playlist_references() {
        let playlist = http("http://127.0.0.1:8080/hls/pb/index.m3u8?t=1").unwrap();
        assert_eq!(playlist.authority, "127.0.0.1:8080");
        let relative = playlist.resolve("12.ts").unwrap();
        assert_eq!(relative.path_and_query, "/hls/pb/12.ts");
        assert_eq!(
            playlist.resolve("/seg/1.ts").unwrap().path_and_query,
            "/seg/1.ts"
        );
        let absolute = playlist.resolve("http://127.0.0.2:9/a.ts").unwrap();
        assert_eq!(absolute.addr, "127.0.0.2:9".parse().unwrap());
        assert!(playlist.resolve("http://10.1.1.1/a.ts").is_err());
        assert_eq!(http("http://[::1]:8080").unwrap().path_and_query, "/");
    }

    #[test]
    fn expands_templates() {
        assert_eq!(expand("rtmp://h/live/{key}", "k1"), "rtmp://h/live/k1");
        assert_eq!(expand("http://h/live/{id}.flv", "p"), "http://h/live/p.flv");
        assert!(has_placeholder("rtmp://h/live/{name}"));
        assert!(!has_placeholder("rtmp://h/live/fixed"));
    }
}
