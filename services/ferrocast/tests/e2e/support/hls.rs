//! HLS as a player reads it: `index.m3u8` is a multivariant playlist naming one media playlist
//! (`media-{generation}.m3u8`), which lists the segments. A plain media playlist at the same
//! URL is followed too, so tests read both layouts the same way.

use std::time::Duration;

use super::http::{Response, get, try_get};

/// A media playlist and the URL it came from (segments are relative to it).
#[derive(Debug, Clone)]
pub struct MediaPlaylist {
    /// Where the media playlist was fetched from.
    pub url: String,
    /// Its text.
    pub text: String,
}

impl MediaPlaylist {
    /// The absolute URL of a URI listed in this playlist.
    pub fn resolve(&self, uri: &str) -> String {
        resolve(&self.url, uri)
    }
}

/// `uri` relative to the playlist at `base`.
pub fn resolve(base: &str, uri: &str) -> String {
    if uri.starts_with("http://") {
        return uri.to_owned();
    }
    let directory = &base[..=base.rfind('/').expect("a URL with a path")];
    format!("{directory}{uri}")
}

/// The first variant URI of a multivariant playlist, or `None` for a media playlist.
pub fn variant_uri(text: &str) -> Option<&str> {
    let mut lines = text.lines();
    lines.find(|line| line.starts_with("#EXT-X-STREAM-INF"))?;
    lines.find(|line| !line.is_empty() && !line.starts_with('#'))
}

/// Fetches `url` and, when it is a multivariant playlist, the media playlist it names;
/// `None` unless both answer 200. Panics when the server cannot be reached.
pub fn media_playlist(url: &str) -> Option<MediaPlaylist> {
    follow(url, |url| Ok(get(url))).ok().flatten()
}

/// Like [`media_playlist`], but an unreachable or hanging server is an `Err` (for observers
/// that keep reading through a fault).
pub fn try_media_playlist(
    url: &str,
    timeout: Duration,
) -> Result<Option<MediaPlaylist>, std::io::Error> {
    follow(url, |url| try_get(url, timeout))
}

/// The text of the media playlist behind `url` when it answers 200.
pub fn media_text(url: &str) -> Option<String> {
    media_playlist(url).map(|playlist| playlist.text)
}

fn follow(
    url: &str,
    fetch: impl Fn(&str) -> std::io::Result<Response>,
) -> std::io::Result<Option<MediaPlaylist>> {
    let first = fetch(url)?;
    if first.status != 200 {
        return Ok(None);
    }
    let text = first.text();
    let Some(variant) = variant_uri(&text) else {
        return Ok(Some(MediaPlaylist {
            url: url.to_owned(),
            text,
        }));
    };
    let media_url = resolve(url, variant);
    let media = fetch(&media_url)?;
    Ok((media.status == 200).then(|| MediaPlaylist {
        url: media_url,
        text: media.text(),
    }))
}

/// Segment URIs listed by a playlist, in order.
pub fn segment_uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The value of a `#TAG:value` line.
pub fn tag_value(playlist: &str, tag: &str) -> Option<u64> {
    let prefix = format!("{tag}:");
    playlist
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
}

/// `(msn, uri)` of every listed segment: the media sequence numbers the first, each next one
/// counts up by one (RFC 8216 §6.3.2).
pub fn listed_segments(playlist: &str) -> Vec<(u64, String)> {
    let first = tag_value(playlist, "#EXT-X-MEDIA-SEQUENCE").unwrap_or(0);
    segment_uris(playlist)
        .into_iter()
        .enumerate()
        .map(|(index, uri)| (first + index as u64, uri))
        .collect()
}
