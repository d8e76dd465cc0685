//! Signed playback on the local cluster (control, two origins, two edges, a real redis-server
//! and s3s-fs), published by ffmpeg: a signed stream answers 403 without a token, with an
//! expired one, one for another playback id and one signed by an unknown key; with a valid
//! token every URI its TS, LL-HLS and DASH manifests name answers (each carrying the token),
//! ffprobe reads it and hls.js plays it in Chromium (also through the watch page); its
//! thumbnail and its recording need tokens for those uses and RTMP play is refused; a deleted key stops
//! working within the edges' bound (ADR 22); made public again, it plays without a token and
//! ignores one.
//!
//! Tokens are signed here with `jsonwebtoken`, as an operator's backend would.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::SecretKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde_json::{Value, json};

use crate::low_latency_browser::{number, plays};
use crate::support::cluster::LocalCluster;
use crate::support::http::{self, Response, get, try_stream};
use crate::support::media::{probe, publish_clip, run_bounded};
use crate::support::wait_for;

/// The edges poll control every 2 s and a poll is bounded by as much: a deleted key is gone
/// within 4 s (ADR 22). Half a second on top for the test's own polling and a busy machine.
const KEY_REMOVAL_BOUND: Duration = Duration::from_millis(4_500);

/// The control client's playback cache time: a policy change shows within it (ADR 22).
const POLICY_CHANGE_BOUND: Duration = Duration::from_secs(11);

/// An admin API call: status and JSON body.
fn admin(cluster: &LocalCluster, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = format!("Bearer {}", cluster.var("ADMIN_TOKEN"));
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let url = format!("{}{path}", cluster.var("ADMIN_URL"));
    let response = http::request(method, &url, &[("Authorization", &auth)], &body);
    let json = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, json)
}

/// A signing key: its kid and the private key as `jsonwebtoken` takes it.
struct Signer {
    kid: String,
    key: EncodingKey,
}

impl Signer {
    /// A key made by control (`POST /v1/signing-keys`).
    fn made(cluster: &LocalCluster) -> Self {
        let (status, made) = admin(cluster, "POST", "/v1/signing-keys", None);
        assert_eq!(status, 201, "{made}");
        let secret = SecretKey::from_pkcs8_pem(made["private_key"].as_str().unwrap()).unwrap();
        Self::of(made["kid"].as_str().unwrap(), &secret)
    }

    fn of(kid: &str, secret: &SecretKey) -> Self {
        let der = secret.to_pkcs8_der().unwrap();
        Self {
            kid: kid.to_owned(),
            key: EncodingKey::from_ec_der(der.as_bytes()),
        }
    }

    /// A token for `sub` expiring `expires_in_s` from now (negative: in the past).
    fn token(&self, sub: &str, expires_in_s: i64) -> String {
        self.token_for(sub, expires_in_s, "live")
    }

    /// [`Self::token`] for the audience `aud`.
    fn token_for(&self, sub: &str, expires_in_s: i64, aud: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let claims = json!({ "sub": sub, "exp": now + expires_in_s, "aud": aud });
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

/// `relative` resolved against `base` (a URL with a query), `..` segments applied.
fn resolve(base: &str, relative: &str) -> String {
    let base = base.split('?').next().unwrap();
    let (origin, path) = base.split_at(base["http://".len()..].find('/').unwrap() + 7);
    let mut segments: Vec<&str> = path.split('/').collect();
    segments.pop(); // the file
    let (relative_path, query) = relative.split_once('?').unwrap_or((relative, ""));
    for part in relative_path.split('/') {
        match part {
            ".." => {
                segments.pop();
            }
            "." => {}
            _ => segments.push(part),
        }
    }
    let joined = segments.join("/");
    if query.is_empty() {
        format!("{origin}{joined}")
    } else {
        format!("{origin}{joined}?{query}")
    }
}

/// Every URI an HLS playlist names: URI lines and `URI="..."` attributes.
fn hls_uris(text: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            let mut rest = line;
            while let Some(at) = rest.find("URI=\"") {
                let value = &rest[at + 5..];
                let end = value.find('"').unwrap();
                uris.push(value[..end].to_owned());
                rest = &value[end..];
            }
        } else if !line.trim().is_empty() {
            uris.push(line.to_owned());
        }
    }
    uris
}

/// The value of attribute `name` in the first element that has it.
fn xml_attribute<'a>(text: &'a str, name: &str) -> &'a str {
    let pattern = format!(" {name}=\"");
    let at = text
        .find(&pattern)
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        + pattern.len();
    &text[at..at + text[at..].find('"').unwrap()]
}

/// A 403 with `reason` as its plain body, not to be stored by a CDN.
fn refused(response: &Response, reason: &str, what: &str) {
    assert_eq!(response.status, 403, "{what}: {}", response.text());
    assert_eq!(response.text(), format!("{reason}\n"), "{what}");
    assert_eq!(response.header("cache-control"), Some("no-store"), "{what}");
}

/// Fetches every URI `playlist` names (each must carry `token`) and, for each manifest among
/// them, every URI it names in turn; answers how many objects were fetched.
fn walk_hls(url: &str, token: &str, depth: u32) -> usize {
    let response = get(url);
    assert_eq!(response.status, 200, "{url}: {}", response.text());
    let text = response.text();
    let mut fetched = 0;
    for uri in hls_uris(&text) {
        assert!(
            uri.contains(&format!("token={token}")),
            "{uri} in {url}:\n{text}"
        );
        let target = resolve(url, &uri);
        if uri.contains(".m3u8") {
            assert!(depth < 3, "{url} names playlists too deep");
            fetched += walk_hls(&target, token, depth + 1);
        } else if text.contains(&format!("PRELOAD-HINT:TYPE=PART,URI=\"{uri}\"")) {
            // A part announced before it exists: its request waits for it (the edge bounds
            // that); checked for the token only.
        } else {
            let object = get(&target);
            assert_eq!(object.status, 200, "{target}: {}", object.text());
            assert!(!object.body.is_empty(), "{target}");
            fetched += 1;
        }
    }
    fetched
}

/// `_HLS_msn=…&_HLS_part=0` of the last complete segment the playlist at `url` lists: a
/// blocking request answered at once, with bytes that no longer change.
fn listed_part(url: &str) -> String {
    let text = get(url).text();
    let first: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .unwrap_or_else(|| panic!("no media sequence in {text}"))
        .parse()
        .unwrap();
    let complete = text.matches("#EXTINF").count() as u64;
    assert!(complete >= 1, "{text}");
    format!("_HLS_msn={}&_HLS_part=0", first + complete - 1)
}

#[test]
fn a_signed_stream_plays_only_with_a_valid_token_on_every_protocol() {
    let cluster = LocalCluster::start_with(&[("ORIGIN_DRAIN_FLUSH_DEADLINE", "1s")]);
    let signer = Signer::made(&cluster);
    let (status, stream) = admin(
        &cluster,
        "POST",
        "/v1/streams",
        Some(json!({ "name": "signed", "playback_policy": "signed", "recording_retention": "1h" })),
    );
    assert_eq!(status, 201, "{stream}");
    let pid = stream["playback_id"].as_str().unwrap().to_owned();
    let key = stream["stream_key"].as_str().unwrap();
    let edges = ["EDGE_URL_1", "EDGE_URL_2"].map(|e| cluster.var(e).to_owned());
    let publisher = publish_clip(&format!("{}/{key}", cluster.var("ORIGIN_RTMP_1")), -1);

    let token = signer.token(&pid, 600);
    let ts = |edge: &str, query: &str| format!("{edge}/hls/{pid}/index.m3u8{query}");
    let ll = |edge: &str, file: &str, query: &str| format!("{edge}/ll/{pid}/{file}{query}");
    let with = format!("?token={token}");
    wait_for(
        "the signed stream's LL-HLS segments",
        Duration::from_secs(40),
        || {
            let text = get(&ll(&edges[0], "video.m3u8", &with)).text();
            (text.matches("#EXTINF").count() >= 2).then_some(())
        },
    );
    wait_for(
        "the signed stream's TS playlist",
        Duration::from_secs(40),
        || (get(&ts(&edges[0], &with)).status == 200).then_some(()),
    );

    // Refusals, on every protocol's entry point and through both edges.
    let expired = signer.token(&pid, -60);
    let other_stream = signer.token("0123456789abcdef", 600);
    let stranger = SecretKey::from_slice(&[7; 32]).unwrap();
    let unknown_key = Signer::of("0000000000000000", &stranger).token(&pid, 600);
    for edge in &edges {
        let entries = [
            ts(edge, ""),
            ll(edge, "index.m3u8", ""),
            ll(edge, "multivariant.m3u8", ""),
            ll(edge, "video.m3u8", ""),
            ll(edge, "manifest.mpd", ""),
            format!("{edge}/live/{pid}.flv"),
        ];
        for entry in &entries {
            let join = |t: &str| format!("{entry}?token={t}");
            refused(&get(entry), "token missing", entry);
            refused(&get(&join(&expired)), "token expired", entry);
            refused(
                &get(&join(&other_stream)),
                "token for another stream",
                entry,
            );
            refused(&get(&join(&unknown_key)), "unknown signing key", entry);
            refused(&get(&join("not.a.token")), "bad token", entry);
        }
    }

    // RTMP play has no place for a token: the origin refuses a signed stream, saying why.
    let mut rtmp_play = std::process::Command::new("ffprobe");
    rtmp_play.args([
        "-v",
        "error",
        &format!("{}/{pid}", cluster.var("ORIGIN_RTMP_1")),
    ]);
    let refused_play = run_bounded(rtmp_play, 20);
    let said = String::from_utf8_lossy(&refused_play.stderr);
    assert!(!refused_play.status.success(), "{said}");
    assert!(said.contains("needs a playback token"), "{said}");

    // Thumbnails need a token for them (`aud` = thumbnail); a live one is for another use.
    let thumbnail_token = signer.token_for(&pid, 600, "thumbnail");
    for edge in &edges {
        let thumbnail = format!("{edge}/thumbnail/{pid}.jpg");
        refused(&get(&thumbnail), "token missing", &thumbnail);
        let live_only = format!("{thumbnail}?width=160&token={token}");
        refused(&get(&live_only), "token not for this use", &live_only);
        let jpeg = get(&format!("{thumbnail}?width=160&token={thumbnail_token}"));
        assert_eq!(jpeg.status, 200, "{}", jpeg.text());
        assert_eq!(jpeg.header("content-type"), Some("image/jpeg"));
        let for_thumbnails = format!("{}?token={thumbnail_token}", ts(edge, ""));
        refused(
            &get(&for_thumbnails),
            "token not for this use",
            &for_thumbnails,
        );
    }

    // Its recording (still recording, so served as it grows) needs a token for recordings.
    let listed = format!("/v1/streams/{}/recordings", stream["id"].as_str().unwrap());
    let (status, recordings) = admin(&cluster, "GET", &listed, None);
    assert_eq!(status, 200, "{recordings}");
    let vod = recordings[0]["playback"]["hls"]
        .as_str()
        .expect("a recording")
        .to_owned();
    refused(&get(&vod), "token missing", &vod);
    let live_only = format!("{vod}?token={token}");
    refused(&get(&live_only), "token not for this use", &live_only);
    let recording_token = signer.token_for(&pid, 600, "recording");
    let playlist = get(&format!("{vod}?token={recording_token}"));
    assert_eq!(playlist.status, 200, "{}", playlist.text());
    let segments = hls_uris(&playlist.text());
    assert!(!segments.is_empty(), "{}", playlist.text());
    for uri in &segments {
        assert!(uri.ends_with(&format!("?token={recording_token}")), "{uri}");
    }

    // With the token: every URI of every manifest carries it and answers, through both edges.
    for edge in &edges {
        let ts_objects = walk_hls(&ts(edge, &with), &token, 0);
        let ll_objects = walk_hls(&ll(edge, "multivariant.m3u8", &with), &token, 0);
        assert!(
            ts_objects >= 1 && ll_objects >= 4,
            "{ts_objects} {ll_objects}"
        );
        eprintln!(
            "measured: {edge}: {ts_objects} TS and {ll_objects} LL objects fetched with the token"
        );

        let mpd_url = ll(edge, "manifest.mpd", &with);
        let mpd = get(&mpd_url);
        assert_eq!(mpd.status, 200);
        let mpd = mpd.text();
        let init = xml_attribute(&mpd, "initialization");
        let media = xml_attribute(&mpd, "media");
        let first = xml_attribute(&mpd, "startNumber");
        for template in [init, media] {
            assert!(template.ends_with(&with), "{template}");
        }
        for uri in [init.to_owned(), media.replace("$Number$", first)] {
            let object = get(&resolve(&mpd_url, &uri));
            assert_eq!(object.status, 200, "{uri}");
            let bare = resolve(&mpd_url, uri.split('?').next().unwrap());
            refused(&get(&bare), "token missing", &bare);
        }

        // HTTP-FLV with the token; the same via `Authorization: Bearer`.
        let flv = try_stream(
            &format!("{edge}/live/{pid}.flv{with}"),
            Duration::from_secs(10),
        );
        assert_eq!(flv.unwrap().status, 200);
        let bearer = http::request(
            "GET",
            &ll(edge, "index.m3u8", ""),
            &[("Authorization", &format!("Bearer {token}"))],
            "",
        );
        assert_eq!(bearer.status, 200, "{}", bearer.text());
    }

    // The same token and blocking request: the same bytes from both edges.
    let blocking = format!(
        "?{}&token={token}",
        listed_part(&ll(&edges[0], "video.m3u8", &with))
    );
    let answers = edges
        .clone()
        .map(|edge| get(&ll(&edge, "video.m3u8", &blocking)));
    assert_eq!(answers[0].status, 200);
    assert_eq!(
        answers[0].body, answers[1].body,
        "edges differ for one token"
    );

    // Real clients: ffprobe through the TS URL, hls.js through TS and LL-HLS.
    let probed = probe(&ts(&edges[1], &with));
    assert!(probed["streams"].as_array().unwrap().len() >= 2, "{probed}");
    let played = plays("hls", &ts(&edges[0], &with), &["--seconds", "3"]);
    assert!(number(&played, "advanced") >= 3.0, "{played}");
    let played = plays(
        "hls-ll",
        &ll(&edges[1], "index.m3u8", &with),
        &["--seconds", "3"],
    );
    assert!(number(&played, "advanced") >= 3.0, "{played}");
    assert!(number(&played, "parts") >= 1.0, "{played}");
    // The watch page passes its ?token= on to its player.
    let watch = format!("{}/watch/{pid}{with}", edges[0]);
    let watched = plays("watch", &watch, &["--seconds", "3"]);
    assert_eq!(watched["state"], "live", "{watched}");

    // Rotation: a second key made, the first deleted. The first's token stops within the
    // bound on both edges; the second's keeps playing.
    let next = Signer::made(&cluster);
    let next_token = next.token(&pid, 600);
    let next_url = |edge: &str| ll(edge, "index.m3u8", &format!("?token={next_token}"));
    for edge in &edges {
        wait_for("the edge to have the new key", KEY_REMOVAL_BOUND, || {
            (get(&next_url(edge)).status == 200).then_some(())
        });
    }
    let (status, _) = admin(
        &cluster,
        "DELETE",
        &format!("/v1/signing-keys/{}", signer.kid),
        None,
    );
    assert_eq!(status, 204);
    let deleted = Instant::now();
    for edge in &edges {
        let url = ll(edge, "index.m3u8", &with);
        // The bound counts from the DELETE for each edge.
        let left = KEY_REMOVAL_BOUND.saturating_sub(deleted.elapsed());
        wait_for("the deleted key to stop working", left, || {
            let response = get(&url);
            (response.status == 403).then_some(response)
        });
        refused(&get(&url), "unknown signing key", &url);
        assert_eq!(get(&next_url(edge)).status, 200, "{edge}");
    }
    eprintln!(
        "measured: the deleted key stopped working on both edges {} ms after DELETE",
        deleted.elapsed().as_millis()
    );

    // Public again: plays without a token (within the edges' cache time), ignores one, and
    // answers the same bytes with and without it.
    let path = format!("/v1/streams/{}", stream["id"].as_str().unwrap());
    let (status, _) = admin(
        &cluster,
        "PATCH",
        &path,
        Some(json!({ "playback_policy": "public" })),
    );
    assert_eq!(status, 200);
    let changed = Instant::now();
    for edge in &edges {
        wait_for("the stream to be public", POLICY_CHANGE_BOUND, || {
            (get(&ll(edge, "index.m3u8", "")).status == 200).then_some(())
        });
    }
    eprintln!(
        "measured: public on both edges {} ms after PATCH",
        changed.elapsed().as_millis()
    );
    let bare = format!("?{}", listed_part(&ll(&edges[0], "video.m3u8", "")));
    let plain = get(&ll(&edges[0], "video.m3u8", &bare));
    let ignored = get(&ll(
        &edges[0],
        "video.m3u8",
        &format!("{bare}&token={expired}"),
    ));
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body, ignored.body, "a public stream ignores tokens");
    assert!(!plain.text().contains("token="));

    let mut publisher = publisher;
    let _ = publisher.kill();
    let _ = publisher.wait();
}
