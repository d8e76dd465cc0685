//! The watch page, `/watch/{playback_id}`: a small self-contained HTML page that plays the
//! stream with hls.js in low-latency mode (LL-HLS), with the browser's own HLS player where
//! hls.js cannot run (Safari on iPhone) or is not installed, with mpegts.js (HTTP-FLV,
//! `?player=flv`) or dash.js (`?player=dash`), and shows live, offline or ended and the
//! latency behind live.
//!
//! The player scripts are pinned npm packages that an install step puts in
//! [`WatchConfig::assets_dir`]; the edge serves them from memory under content-addressed
//! names, so they are cached forever and never loaded from another origin (ADR 18). Without
//! them the page says the player is not installed and still lists the stream URLs.
//!
//! The page is the same for every viewer and every edge: the playback id is its only input
//! (checked, then escaped), and the query (`player`, `muted`, `recording`) is read by the page's script,
//! which only ever picks among the same-origin URLs of that id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get};
use bytes::Bytes;
use ferrocast_base::PlaybackId;
use serde::{Deserialize, Serialize};

use crate::reply::not_found;

/// The page, with `{{…}}` placeholders filled by [`render_page`].
const PAGE: &str = include_str!("../assets/watch.html");
/// The page's script: served as a file, because the page's CSP allows no inline script.
const SCRIPT: &str = include_str!("../assets/watch.js");
/// The page's style sheet, a file for the same reason.
const STYLE: &str = include_str!("../assets/watch.css");

/// Content-addressed names never change meaning, so browsers and CDNs may keep them forever.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page names the current scripts; a minute lets an upgrade reach viewers soon.
const PAGE_CACHE: &str = "public, max-age=60";
/// Same-origin scripts and media only, no inline code, and any site may embed the page.
/// `blob:` is what MSE players attach to the video element (and hls.js runs its worker from).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; \
     base-uri 'none'; form-action 'none'; frame-ancestors *";
/// A player file larger than this is not what the pinned packages ship: refuse it rather than
/// hold it in memory.
const MAX_PLAYER_BYTES: u64 = 8 * 1024 * 1024;
/// The longest playback id the page accepts: ids are 16 hex digits today.
const MAX_PLAYBACK_ID_LEN: usize = 64;

/// Where the pinned players come from when `assets_dir` is unset: a directory chosen at build
/// time (`FC_WATCH_ASSETS_DIR`, set by the image build), else the checkout's
/// `scripts/browser/node_modules`, which `scripts/install-test-deps.sh` fills.
fn default_assets_dir() -> PathBuf {
    match option_env!("FC_WATCH_ASSETS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/browser/node_modules"),
    }
}

/// The `edge.watch` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// An npm `node_modules` directory holding the pinned `hls.js`, `mpegts.js` and `dashjs`
    /// packages (`npm ci --omit=dev` in `scripts/browser`). Unset: the build's default.
    pub assets_dir: Option<PathBuf>,
}

/// A player the page can load, and where its npm package keeps the browser build.
struct PlayerFile {
    /// Its key in the page (`data-…`) and the stem of its served name.
    key: &'static str,
    /// The file inside `assets_dir`.
    path: &'static str,
}

const PLAYERS: [PlayerFile; 3] = [
    PlayerFile {
        key: "hls",
        path: "hls.js/dist/hls.min.js",
    },
    PlayerFile {
        key: "mpegts",
        path: "mpegts.js/dist/mpegts.js",
    },
    PlayerFile {
        key: "dash",
        path: "dashjs/dist/modern/umd/dash.all.min.js",
    },
];

/// One file under `/watch/assets/`.
struct Asset {
    content_type: &'static str,
    body: Bytes,
}

/// The page's files, loaded once: every served name, and the name of each file by its key
/// (absent when that player is not installed).
pub struct Watch {
    assets: HashMap<String, Asset>,
    names: HashMap<&'static str, String>,
}

impl Watch {
    /// Loads the page's own files and whatever pinned players `config` points at. A missing
    /// or unreadable player is logged once and left out: the page then says so.
    pub fn load(config: &WatchConfig) -> Arc<Self> {
        let dir = config.assets_dir.clone().unwrap_or_else(default_assets_dir);
        let mut watch = Self {
            assets: HashMap::new(),
            names: HashMap::new(),
        };
        watch.add(
            "watch",
            "js",
            "text/javascript; charset=utf-8",
            SCRIPT.into(),
        );
        watch.add("style", "css", "text/css; charset=utf-8", STYLE.into());
        let mut missing = Vec::new();
        for player in &PLAYERS {
            match read_capped(&dir.join(player.path)) {
                Ok(body) => watch.add(player.key, "js", "text/javascript; charset=utf-8", body),
                Err(reason) => missing.push(format!("{}: {reason}", player.path)),
            }
        }
        if !missing.is_empty() {
            tracing::info!(
                dir = %dir.display(),
                missing = missing.join("; "),
                "watch page players not installed"
            );
        }
        Arc::new(watch)
    }

    fn add(&mut self, key: &'static str, ext: &str, content_type: &'static str, body: Bytes) {
        let name = format!("{key}-{:016x}.{ext}", fnv1a(&body));
        self.names.insert(key, name.clone());
        self.assets.insert(name, Asset { content_type, body });
    }

    /// The served name of `key`'s file, or "" when it is not installed.
    fn name(&self, key: &str) -> &str {
        self.names.get(key).map_or("", String::as_str)
    }

    /// `GET /watch/{playback_id}`, with its own state, for the edge's router.
    pub fn page_route<S: Clone + Send + Sync + 'static>(self: &Arc<Self>) -> MethodRouter<S> {
        get(page).with_state(self.clone())
    }

    /// `GET /watch/assets/{file}`, with its own state, for the edge's router.
    pub fn assets_route<S: Clone + Send + Sync + 'static>(self: &Arc<Self>) -> MethodRouter<S> {
        get(asset).with_state(self.clone())
    }
}

/// `GET /` in `ferrocast dev`: a 302 to the dev stream's watch page.
pub fn home_route<S: Clone + Send + Sync + 'static>(playback_id: &PlaybackId) -> MethodRouter<S> {
    let target = format!("/watch/{}", playback_id.as_str());
    get(move || async move { Redirect::to(&target) })
}

/// Reads a player file, refusing one over [`MAX_PLAYER_BYTES`].
fn read_capped(path: &Path) -> Result<Bytes, String> {
    let size = std::fs::metadata(path)
        .map_err(|error| error.kind().to_string())?
        .len();
    if size > MAX_PLAYER_BYTES {
        return Err(format!("{size} bytes, over the {MAX_PLAYER_BYTES} cap"));
    }
    let body = std::fs::read(path).map_err(|error| error.kind().to_string())?;
    Ok(Bytes::from(body))
}

/// 64-bit FNV-1a: a content hash that is the same on every build and every edge, so two edges
/// name a file alike (and it needs no dependency). Not a defence against anyone: the files
/// come from the operator's own install.
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// Whether `id` can be a playback id: short, and only characters that need no escaping in a
/// URL path. Anything else is no stream's id, so it gets a 404 rather than a page.
fn plausible_playback_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PLAYBACK_ID_LEN
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Escapes text for an HTML text node or a quoted attribute value.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The page for `playback_id`: every placeholder is replaced by escaped text.
fn render_page(watch: &Watch, playback_id: &str) -> String {
    let id = escape_html(playback_id);
    PAGE.replace("{{ID}}", &id)
        .replace("{{SCRIPT}}", &escape_html(watch.name("watch")))
        .replace("{{STYLE}}", &escape_html(watch.name("style")))
        .replace("{{HLS}}", &escape_html(watch.name("hls")))
        .replace("{{MPEGTS}}", &escape_html(watch.name("mpegts")))
        .replace("{{DASH}}", &escape_html(watch.name("dash")))
}

async fn page(State(watch): State<Arc<Watch>>, UrlPath(playback_id): UrlPath<String>) -> Response {
    if !plausible_playback_id(&playback_id) {
        return not_found();
    }
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, PAGE_CACHE),
        (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    (StatusCode::OK, headers, render_page(&watch, &playback_id)).into_response()
}

async fn asset(State(watch): State<Arc<Watch>>, UrlPath(file): UrlPath<String>) -> Response {
    let Some(asset) = watch.assets.get(&file) else {
        return not_found();
    };
    let mut response = asset.body.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
