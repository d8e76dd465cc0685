//! The watch page's responses: what a browser gets for an id, the scripts it may load, and
//! what it gets when the players are not installed.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::to_bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::{Watch, WatchConfig, asset, page};

/// A scratch directory shaped like `node_modules`, removed on drop.
struct Modules(PathBuf);

impl Modules {
    fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ferrocast-watch-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn put(&self, path: &str, body: &[u8]) {
        let file = self.0.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }

    fn watch(&self) -> Arc<Watch> {
        Watch::load(&WatchConfig {
            assets_dir: Some(self.0.clone()),
        })
    }
}

impl Drop for Modules {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn get_page(watch: &Arc<Watch>, id: &str) -> (Response, String) {
    let mut response = page(State(watch.clone()), Path(id.to_owned())).await;
    let body = std::mem::take(response.body_mut());
    let text = String::from_utf8(to_bytes(body, 1 << 20).await.unwrap().to_vec()).unwrap();
    (response, text)
}

/// The value of `data-{key}="…"` in the page.
fn data_attribute<'a>(page: &'a str, key: &str) -> &'a str {
    let marker = format!("data-{key}=\"");
    let start = page.find(&marker).unwrap() + marker.len();
    &page[start..start + page[start..].find('"').unwrap()]
}

#[tokio::test]
async fn the_page_names_the_streams_urls_and_can_be_embedded() {
    let modules = Modules::new();
    let (response, text) = get_page(&modules.watch(), "0123abcd0123abcd").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(headers.get(header::X_FRAME_OPTIONS).is_none());
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for url in [
        "../ll/0123abcd0123abcd/index.m3u8",
        "../ll/0123abcd0123abcd/manifest.mpd",
        "../ll/0123abcd0123abcd/multivariant.m3u8",
        "../hls/0123abcd0123abcd/index.m3u8",
        "../live/0123abcd0123abcd.flv",
    ] {
        assert!(text.contains(url), "{url} missing from {text}");
    }
    // No inline script: the only scripts are same-origin files.
    assert!(!text.contains("<script>"));
    assert!(!text.contains("{{"), "a placeholder was left: {text}");
}

#[tokio::test]
async fn installed_players_are_served_under_names_that_change_with_their_content() {
    let modules = Modules::new();
    modules.put("hls.js/dist/hls.min.js", b"var Hls = 1;");
    modules.put("mpegts.js/dist/mpegts.js", b"var mpegts = 1;");
    let watch = modules.watch();
    let (_, text) = get_page(&watch, "abc").await;
    let hls = data_attribute(&text, "hls").to_owned();
    assert!(hls.starts_with("hls-") && hls.ends_with(".js"), "{hls}");
    assert!(data_attribute(&text, "mpegts").starts_with("mpegts-"));
    assert_eq!(
        data_attribute(&text, "dash"),
        "",
        "dash.js was not installed"
    );

    let response = asset(State(watch.clone()), Path(hls.clone())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()[header::CACHE_CONTROL].to_str().unwrap();
    assert!(cache.contains("immutable"), "{cache}");
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    assert_eq!(&body[..], b"var Hls = 1;");

    // Another content, another name: a cached old copy is never served for the new one.
    modules.put("hls.js/dist/hls.min.js", b"var Hls = 2;");
    let (_, newer) = get_page(&modules.watch(), "abc").await;
    assert_ne!(data_attribute(&newer, "hls"), hls);

    let unknown = asset(State(watch), Path("hls.min.js".to_owned())).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_players_the_page_still_serves_its_own_script() {
    let modules = Modules::new();
    let watch = modules.watch();
    let (_, text) = get_page(&watch, "abc").await;
    assert_eq!(data_attribute(&text, "hls"), "");
    let script = text
        .split("<script src=\"assets/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let response = asset(State(watch), Path(script)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("not installed"));
}

#[tokio::test]
async fn an_oversized_player_is_left_out() {
    let modules = Modules::new();
    modules.put("hls.js/dist/hls.min.js", b"");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(modules.0.join("hls.js/dist/hls.min.js"))
        .unwrap();
    file.set_len(super::MAX_PLAYER_BYTES + 1).unwrap();
    let (_, text) = get_page(&modules.watch(), "abc").await;
    assert_eq!(data_attribute(&text, "hls"), "");
}

#[tokio::test]
async fn ids_that_are_no_playback_id_get_no_page() {
    let watch = Modules::new().watch();
    for id in ["", "a\"b", "<script>", "a b", "x/y", &"a".repeat(65)] {
        let (response, _) = get_page(&watch, id).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id:?}");
    }
    let (response, _) = get_page(&watch, "Ab-_9").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn html_escaping_covers_attribute_quotes() {
    assert_eq!(
        super::escape_html(r#"<a href="x" onclick='y'>&"#),
        "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;"
    );
}
