//! Writes a request's token into every URI of the playlist or MPD it is answered, so the
//! player's next requests (media playlists, segments, parts, inits, preload hints, rendition
//! reports, the TS alternative, DASH templates) carry it too. Pure and deterministic: the
//! same text and token give the same bytes on every edge. Without a token nothing is
//! touched, so a public stream's answers stay as they were.
//!
//! The token passed [`super::verify::well_formed`]: base64url and dots only, so it needs no
//! escaping in a URI, a quoted HLS attribute or an XML attribute.

use super::Token;

/// An HLS playlist with `token` added to each URI line and each `URI="..."` attribute.
pub fn playlist(text: String, token: Option<&Token>) -> String {
    let Some(token) = token else {
        return text;
    };
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for line in text.split_inclusive('\n') {
        let (body, end) = split_end(line);
        if body.starts_with('#') {
            quoted_attributes(&mut out, body, &["URI"], token);
        } else if body.trim().is_empty() {
            out.push_str(body);
        } else {
            out.push_str(body);
            push_query(&mut out, body, token);
        }
        out.push_str(end);
    }
    out
}

/// A DASH MPD with `token` added to each `media` and `initialization` template, which the
/// player resolves against the MPD's URL without its query.
pub fn mpd(text: String, token: Option<&Token>) -> String {
    let Some(token) = token else {
        return text;
    };
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.split_inclusive('\n') {
        quoted_attributes(&mut out, line, &["media", "initialization"], token);
    }
    out
}

/// Copies `line` to `out`, adding the token at the end of the value of each attribute named
/// in `names` (`NAME="value"`, the name at the start of the line or after a space or comma,
/// so `mimeType` is not taken for a `media`-like name).
fn quoted_attributes(out: &mut String, line: &str, names: &[&str], token: &Token) {
    let mut rest = line;
    while let Some((start, value_end)) = next_attribute(rest, names) {
        out.push_str(&rest[..value_end]);
        push_query(out, &rest[start..value_end], token);
        rest = &rest[value_end..];
    }
    out.push_str(rest);
}

/// The first attribute of `names` in `text`: where its value starts and where it ends (at
/// the closing quote).
fn next_attribute(text: &str, names: &[&str]) -> Option<(usize, usize)> {
    let mut found: Option<(usize, usize)> = None;
    for name in names {
        let pattern = format!("{name}=\"");
        let mut from = 0;
        while let Some(at) = text[from..].find(&pattern).map(|at| at + from) {
            let before = text[..at].chars().next_back();
            let starts_name = before.is_none_or(|c| c == ' ' || c == ',' || c == ':');
            let start = at + pattern.len();
            if starts_name && let Some(length) = text[start..].find('"') {
                if found.is_none_or(|(earliest, _)| start < earliest) {
                    found = Some((start, start + length));
                }
                break;
            }
            from = start;
        }
    }
    found
}

/// Appends `?token=…`, or `&token=…` when `uri` already has a query.
fn push_query(out: &mut String, uri: &str, token: &Token) {
    out.push(if uri.contains('?') { '&' } else { '?' });
    out.push_str("token=");
    out.push_str(token.as_str());
}

fn split_end(line: &str) -> (&str, &str) {
    let body = line.trim_end_matches(['\n', '\r']);
    (body, &line[body.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token("aaa.bbb.c-_c".to_owned())
    }

    #[test]
    fn without_a_token_nothing_changes() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"7/init.0.video.mp4\"\n1.ts\n".to_owned();
        assert_eq!(playlist(text.clone(), None), text);
        assert_eq!(mpd(text.clone(), None), text);
    }

    #[test]
    fn every_hls_uri_gets_the_token() {
        let text = "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,URI=\"audio.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"audio\"\nvideo.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2\n../../hls/p/media-3.m3u8\n\
            #EXT-X-MAP:URI=\"7/init.0.video.mp4\"\n\
            #EXT-X-PART:DURATION=0.333,URI=\"7/0.0.video.m4s\",INDEPENDENT=YES\n\
            #EXTINF:2.000,\n7/0.video.m4s\n\
            #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/1.0.video.m4s\"\n\
            #EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=1,LAST-PART=0\n\
            \n12.ts\r\n"
            .to_owned();
        let out = playlist(text, Some(&token()));
        let expected = "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,URI=\"audio.m3u8?token=aaa.bbb.c-_c\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"audio\"\nvideo.m3u8?token=aaa.bbb.c-_c\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2\n../../hls/p/media-3.m3u8?token=aaa.bbb.c-_c\n\
            #EXT-X-MAP:URI=\"7/init.0.video.mp4?token=aaa.bbb.c-_c\"\n\
            #EXT-X-PART:DURATION=0.333,URI=\"7/0.0.video.m4s?token=aaa.bbb.c-_c\",INDEPENDENT=YES\n\
            #EXTINF:2.000,\n7/0.video.m4s?token=aaa.bbb.c-_c\n\
            #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7/1.0.video.m4s?token=aaa.bbb.c-_c\"\n\
            #EXT-X-RENDITION-REPORT:URI=\"audio.m3u8?token=aaa.bbb.c-_c\",LAST-MSN=1,LAST-PART=0\n\
            \n12.ts?token=aaa.bbb.c-_c\r\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn a_uri_with_a_query_gets_an_ampersand() {
        let out = playlist("a.m3u8?x=1\n".to_owned(), Some(&token()));
        assert_eq!(out, "a.m3u8?x=1&token=aaa.bbb.c-_c\n");
    }

    #[test]
    fn mpd_templates_get_the_token_and_nothing_else_does() {
        let text = "<AdaptationSet mimeType=\"video/mp4\" codecs=\"avc1\">\n\
            <SegmentTemplate timescale=\"90000\" initialization=\"7/init.0.video.mp4\" media=\"7/$Number$.video.m4s\" startNumber=\"3\">\n"
            .to_owned();
        let out = mpd(text, Some(&token()));
        assert_eq!(
            out,
            "<AdaptationSet mimeType=\"video/mp4\" codecs=\"avc1\">\n\
            <SegmentTemplate timescale=\"90000\" initialization=\"7/init.0.video.mp4?token=aaa.bbb.c-_c\" media=\"7/$Number$.video.m4s?token=aaa.bbb.c-_c\" startNumber=\"3\">\n"
        );
    }
}
