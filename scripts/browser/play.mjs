#!/usr/bin/env node
// Headless-Chromium playback checker for ferrocast's output.
//
//   node scripts/browser/play.mjs --kind KIND --url <url> [--seconds 3] [--timeout 30] [--verbose]
//   node scripts/browser/play.mjs KIND URL [SECONDS]          (the same, positional)
//
// KIND: hls (hls.js), hls-ll (hls.js in low-latency mode), flv (mpegts.js), dash (dash.js),
// shaka (Shaka Player), watch (the edge's own /watch/{id} page), g2g (glass-to-glass latency:
// plays with --player hls-ll|hls|flv, default hls-ll or flv by the URL, and reads the barcode
// of loadtest/g2g-publish.sh from every presented frame for SECONDS).
//
// Except for `watch`, the player page is served from this script's own 127.0.0.1 server on a
// random port, so the stream is fetched cross-origin and the server's CORS headers are
// exercised. `watch --state S` waits for the page to show S (offline, ended, unavailable)
// instead of playback. `hls --seek-back` (DVR): after playing SECONDS at the live edge, seeks to
// 10 s after the start of the seekable range and must play SECONDS from there, at least 20 s
// behind the live edge (reports `seekableS`, `seekedTo`, `liveEdgeAtSeek`).
// Prints exactly one JSON line on stdout; exit 0 = ok, 1 = failure, 2 = bad usage.

import http from 'node:http';
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { LIBS, LIB_OF, PAGE_KINDS, pageHtml } from './pages.mjs';
import { summarize } from './g2g.mjs';

const CHROMIUM_PATH = process.env.FC_CHROMIUM || '/usr/bin/chromium';
const HARD_MARGIN_S = 10; // launch + teardown allowance on top of --timeout
const POLL_MS = 200;
const KINDS = [...PAGE_KINDS, 'watch', 'g2g'];
/** g2g: fewer frames than this per measured second means the reader is not keeping up. */
const G2G_MIN_FRAMES_PER_S = 10;

function usage(msg) {
  if (msg) process.stderr.write(`play.mjs: ${msg}\n`);
  process.stderr.write(
    `usage: node play.mjs --kind ${KINDS.join('|')} --url <url> [--seconds 3] [--timeout 30] [--player hls-ll|hls|flv] [--state S] [--seek-back] [--verbose]\n` +
      '       node play.mjs KIND URL [SECONDS]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { kind: null, url: null, seconds: 3, timeout: null, player: null, state: null, verbose: false };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = () => {
      if (val !== undefined) return val;
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case '--kind': opts.kind = next(); break;
      case '--url': opts.url = next(); break;
      case '--seconds': opts.seconds = Number(next()); break;
      case '--timeout': opts.timeout = Number(next()); break;
      case '--player': opts.player = next(); break;
      case '--state': opts.state = next(); break;
      case '--seek-back': opts.seekBack = true; break;
      case '--verbose': case '-v': opts.verbose = true; break;
      case '--help': case '-h': usage(); break;
      default:
        if (a.startsWith('-')) usage(`unknown argument ${a}`);
        positional.push(a);
    }
  }
  if (positional.length > 3) usage('too many arguments');
  if (positional[0]) opts.kind = positional[0];
  if (positional[1]) opts.url = positional[1];
  if (positional[2]) opts.seconds = Number(positional[2]);
  if (!KINDS.includes(opts.kind)) usage(`--kind must be one of ${KINDS.join(', ')}`);
  if (!opts.url) usage('--url is required');
  try { new URL(opts.url); } catch { usage(`--url is not a valid URL: ${opts.url}`); }
  if (!(opts.seconds > 0)) usage('--seconds must be > 0');
  if (opts.timeout === null) opts.timeout = Math.max(30, opts.seconds + 25);
  if (!(opts.timeout > 0)) usage('--timeout must be > 0');
  if (opts.kind === 'g2g') {
    opts.player = opts.player || (new URL(opts.url).pathname.endsWith('.flv') ? 'flv' : 'hls-ll');
    if (!['hls-ll', 'hls', 'flv'].includes(opts.player)) usage('--player must be hls-ll, hls or flv');
  } else if (opts.player) usage('--player is for g2g');
  if (opts.state && opts.kind !== 'watch') usage('--state is for watch');
  if (opts.seekBack && opts.kind !== 'hls') usage('--seek-back is for hls');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const log = (...a) => { if (opts.verbose) process.stderr.write(`[play ${((Date.now() - t0) / 1000).toFixed(1)}s] ${a.join(' ')}\n`); };

// ---- result / output (exactly one JSON line) -------------------------------
const result = {
  ok: false,
  kind: opts.kind,
  url: opts.url,
  startTime: null,
  currentTime: null,
  advanced: 0,
  videoWidth: 0,
  videoHeight: 0,
  latency: null,
  firstFrameMs: null,
  elapsedMs: 0,
  errors: [],
};
if (opts.kind === 'g2g') result.player = opts.player;
const consoleErrors = [];
let emitted = false;
function emit() {
  if (emitted) return;
  emitted = true;
  result.elapsedMs = Date.now() - t0;
  if (!result.ok && consoleErrors.length) result.console = consoleErrors.slice(-10);
  process.stdout.write(JSON.stringify(result) + '\n');
}

// Hard bound on the whole run, whatever hangs (launch, page, close).
const hardTimer = setTimeout(() => {
  result.ok = false;
  result.errors.push({ source: 'checker', message: `hard timeout after ${opts.timeout + HARD_MARGIN_S}s` });
  emit();
  process.exit(1); // playwright's exit hook kills the browser it launched
}, (opts.timeout + HARD_MARGIN_S) * 1000);
hardTimer.unref();

function startStaticServer(html) {
  const served = new Set(Object.keys(LIBS));
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://127.0.0.1').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405); res.end(); return; }
    if (p === '/' || p === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : html);
      return;
    }
    if (served.has(p)) {
      fs.readFile(LIBS[p], (err, buf) => {
        if (err) { res.writeHead(500); res.end(String(err)); return; }
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : buf);
      });
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function closeServer(server) {
  return new Promise((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

const withTimeout = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What the page has done so far: one snapshot per poll.
function snapshot(kind) {
  const watch = kind === 'watch';
  const v = document.getElementById(watch ? 'video' : 'v');
  const st = window.__state || { errors: [], notes: [], latency: () => null };
  const out = {
    t: v ? v.currentTime : 0, w: v ? v.videoWidth : 0, h: v ? v.videoHeight : 0,
    rs: v ? v.readyState : 0, paused: v ? v.paused : true, firstFrameMs: st.firstFrameMs ?? null,
    errors: st.errors || [], notes: st.notes || [], nonFatal: st.nonFatal || 0,
    seekStart: v && v.seekable.length ? v.seekable.start(0) : null,
    seekEnd: v && v.seekable.length ? v.seekable.end(v.seekable.length - 1) : null,
  };
  if (watch) {
    const w = window.__watch || {};
    const el = document.getElementById('latency');
    out.state = w.state || null;
    out.player = document.getElementById('player')?.textContent || null;
    out.latency = el && el.dataset.seconds !== '' ? Number(el.dataset.seconds) : null;
    out.latencySource = el ? el.dataset.source || null : null;
    out.shown = el ? el.textContent : null;
    out.message = document.getElementById('message')?.textContent || '';
  } else {
    out.latency = st.latency ? st.latency() : null;
    if (st.parts !== undefined) { out.parts = st.parts; out.fragments = st.fragments; }
    if (st.variants !== undefined) { out.variants = st.variants; out.active = st.active; }
    if (st.g2g) { out.g2g = st.g2g.slice(); out.misreads = st.misreads; }
  }
  return out;
}

// Whether the run has what it came for.
function done(s) {
  // watch --state S: the page shows S (offline, ended, unavailable), whatever the video does.
  if (opts.state) return s.state === opts.state;
  if (result.advanced < opts.seconds) return false;
  // A recording (?recording=) has no latency: it is 'playing' once its video advances.
  if (opts.kind === 'watch') return (s.state === 'live' && s.latency !== null) || s.state === 'playing';
  return true;
}

function record(s, g2gFrom) {
  result.currentTime = s.t;
  result.videoWidth = s.w;
  result.videoHeight = s.h;
  if (s.firstFrameMs !== null && s.firstFrameMs !== undefined) result.firstFrameMs = s.firstFrameMs;
  if (result.startTime === null && s.t > 0) result.startTime = s.t;
  result.advanced = result.startTime === null ? 0 : +(s.t - result.startTime).toFixed(3);
  result.latency = s.latency === null || s.latency === undefined ? null : +Number(s.latency).toFixed(3);
  for (const key of ['parts', 'fragments', 'variants', 'active', 'state', 'player', 'latencySource', 'shown', 'message']) {
    if (s[key] !== undefined) result[key] = s[key];
  }
  if (s.g2g) {
    // Only frames shown after playback started count: the first ones wait for the page.
    Object.assign(result, summarize(s.g2g.slice(g2gFrom)), { misreads: s.misreads });
  }
}

// ---- main ------------------------------------------------------------------
async function main() {
  const pageKind = opts.kind === 'g2g' ? opts.player : opts.kind;
  if (opts.kind !== 'watch') {
    const file = LIBS[LIB_OF[pageKind]];
    if (!fs.existsSync(file)) {
      result.errors.push({ source: 'checker', message: `missing ${file}: run scripts/install-test-deps.sh` });
      return;
    }
  }
  const deadline = t0 + opts.timeout * 1000;
  let server;
  let browser;
  try {
    let pageUrl = opts.url;
    if (opts.kind !== 'watch') {
      server = await startStaticServer(pageHtml({ kind: pageKind, url: opts.url, g2g: opts.kind === 'g2g' }));
      pageUrl = `http://127.0.0.1:${server.address().port}/`;
      log('page server at', pageUrl);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      timeout: Math.max(5000, deadline - Date.now()),
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage', '--no-proxy-server',
      ],
    });
    log('chromium', browser.version());
    const context = await browser.newContext({ serviceWorkers: 'block' }); // fresh, throw-away profile
    const page = await context.newPage();
    page.on('pageerror', (e) => result.errors.push({ source: 'page', message: String(e && e.message || e) }));
    page.on('console', (m) => {
      if (opts.verbose) log('console.' + m.type() + ':', m.text());
      if (m.type() === 'error' && consoleErrors.length < 100) consoleErrors.push(m.text());
    });
    await page.goto(pageUrl, { waitUntil: 'load', timeout: Math.max(1000, deadline - Date.now()) });

    let last = null;
    let g2gFrom = null;
    let seekedTo = null;
    while (Date.now() < deadline) {
      const s = await page.evaluate(snapshot, opts.kind);
      last = s;
      if (s.g2g && g2gFrom === null && s.t > 0) g2gFrom = s.g2g.length;
      record(s, g2gFrom ?? (s.g2g ? s.g2g.length : 0));
      if (s.errors.length) { result.errors.push(...s.errors); break; }
      if (result.errors.length) break; // uncaught page exception
      if (done(s) && opts.seekBack && seekedTo === null && s.seekStart !== null) {
        // --seek-back: once live playback advanced, seek 10 s after the oldest seekable
        // point (the DVR window's start, which moves on as the stream goes) and play from
        // there for --seconds again.
        result.seekableS = +(s.seekEnd - s.seekStart).toFixed(3);
        result.liveEdgeAtSeek = +s.seekEnd.toFixed(3);
        seekedTo = s.seekStart + 10;
        await page.evaluate((to) => { document.getElementById('v').currentTime = to; }, seekedTo);
        result.seekedTo = +seekedTo.toFixed(3);
        result.startTime = null;
        result.advanced = 0;
        await sleep(POLL_MS);
        continue;
      }
      if (done(s)) { result.ok = true; break; }
      if (opts.verbose) log(`t=${s.t.toFixed(2)} readyState=${s.rs} paused=${s.paused} ${s.w}x${s.h} latency=${s.latency} state=${s.state}`);
      await sleep(POLL_MS);
    }
    if (result.ok && opts.seekBack && !(result.startTime !== null && result.startTime < result.liveEdgeAtSeek - 20)) {
      result.ok = false;
      result.errors.push({ source: 'seek', message: `played from ${result.startTime}, not behind the live edge ${result.liveEdgeAtSeek}` });
    }
    if (result.ok && opts.kind === 'g2g' && !(result.count >= opts.seconds * G2G_MIN_FRAMES_PER_S)) {
      result.ok = false;
      result.errors.push({ source: 'g2g', message: `only ${result.count} frames read in ${opts.seconds}s (misreads ${result.misreads})` });
    }
    if (!result.ok && !result.errors.length) {
      result.errors.push({
        source: 'checker',
        message: `timeout: playback advanced ${result.advanced}s (< ${opts.seconds}s) within ${opts.timeout}s`,
        readyState: last ? last.rs : null,
        paused: last ? last.paused : null,
        notes: last ? last.notes : [],
      });
    }
  } catch (e) {
    result.ok = false;
    result.errors.push({ source: 'checker', message: String(e && e.message || e).split('\n')[0] });
  } finally {
    if (browser) await withTimeout(browser.close().catch(() => {}), 5000);
    await withTimeout(closeServer(server), 2000);
  }
}

await main();
if (result.errors.length) result.ok = false;
emit();
process.exit(result.ok ? 0 : 1);
