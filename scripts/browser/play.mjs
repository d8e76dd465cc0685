#!/usr/bin/env node
// Headless-Chromium playback checker for ferrocast HLS and HTTP-FLV output.
//
//   node scripts/browser/play.mjs --kind hls|flv --url <stream url> [--seconds 3] [--timeout 30] [--verbose]
//
// Serves a generated player page (hls.js or mpegts.js) from its own 127.0.0.1
// HTTP server on a random port, so the stream is fetched cross-origin and the
// stream server's CORS headers are exercised. Prints exactly one JSON line on
// stdout; exit 0 = playback advanced by --seconds, 1 = failure, 2 = bad usage.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM_PATH = process.env.FERROCAST_CHROMIUM || '/usr/bin/chromium';
const HARD_MARGIN_S = 10; // launch + teardown allowance on top of --timeout
const POLL_MS = 200;

const LIBS = {
  '/lib/hls.min.js': path.join(HERE, 'node_modules', 'hls.js', 'dist', 'hls.min.js'),
  '/lib/mpegts.js': path.join(HERE, 'node_modules', 'mpegts.js', 'dist', 'mpegts.js'),
};

function usage(msg) {
  if (msg) process.stderr.write(`play.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node play.mjs --kind hls|flv --url <stream url> [--seconds 3] [--timeout 30] [--verbose]\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { kind: null, url: null, seconds: 3, timeout: 30, verbose: false };
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
      case '--verbose': case '-v': opts.verbose = true; break;
      case '--help': case '-h': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (opts.kind !== 'hls' && opts.kind !== 'flv') usage('--kind must be hls or flv');
  if (!opts.url) usage('--url is required');
  try { new URL(opts.url); } catch { usage(`--url is not a valid URL: ${opts.url}`); }
  if (!(opts.seconds > 0)) usage('--seconds must be > 0');
  if (!(opts.timeout > 0)) usage('--timeout must be > 0');
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
  elapsedMs: 0,
  errors: [],
};
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

// ---- the player page -------------------------------------------------------
function pageHtml() {
  const cfg = JSON.stringify({ kind: opts.kind, url: opts.url }).replace(/</g, '\\u003c');
  const lib = opts.kind === 'hls' ? '/lib/hls.min.js' : '/lib/mpegts.js';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ferrocast playback check</title>
<link rel="icon" href="data:,"></head>
<body>
<video id="v" muted playsinline autoplay width="640" height="360"></video>
<script src="${lib}"></script>
<script>
(function () {
  const CFG = ${cfg};
  const st = window.__state = { errors: [], nonFatal: 0, notes: [] };
  const fail = (e) => { try { st.errors.push(JSON.parse(JSON.stringify(e))); } catch (_) { st.errors.push({ message: String(e) }); } };
  const video = document.getElementById('v');
  video.muted = true;
  video.addEventListener('error', () => {
    const me = video.error;
    fail({ source: 'video', code: me ? me.code : null, message: me ? me.message : 'media element error' });
  });
  const play = () => {
    try {
      Promise.resolve(video.play()).catch((e) => st.notes.push('play() rejected: ' + e));
    } catch (e) { st.notes.push('play() threw: ' + e); }
  };
  try {
    if (CFG.kind === 'hls') {
      if (typeof Hls === 'undefined') return fail({ source: 'checker', message: 'hls.js did not load' });
      if (!Hls.isSupported()) return fail({ source: 'hls', message: 'Hls.isSupported() is false (no MSE?)' });
      const hls = window.__player = new Hls({ lowLatencyMode: false });
      hls.on(Hls.Events.ERROR, (_ev, d) => {
        if (!d || !d.fatal) { st.nonFatal++; return; }
        fail({
          source: 'hls', type: d.type, details: d.details, fatal: true,
          url: d.url || (d.context && d.context.url) || undefined,
          status: d.response && d.response.code !== undefined ? d.response.code : undefined,
          reason: d.reason || (d.error && d.error.message) || undefined,
        });
      });
      hls.on(Hls.Events.MANIFEST_PARSED, play);
      hls.loadSource(CFG.url);
      hls.attachMedia(video);
    } else {
      if (typeof mpegts === 'undefined') return fail({ source: 'checker', message: 'mpegts.js did not load' });
      const fl = mpegts.getFeatureList();
      if (!fl.mseLivePlayback) return fail({ source: 'mpegts', message: 'mseLivePlayback not supported' });
      mpegts.LoggingControl.enableAll = false;
      const p = window.__player = mpegts.createPlayer({ type: 'flv', isLive: true, url: CFG.url });
      p.on(mpegts.Events.ERROR, (type, detail, info) => {
        fail({ source: 'mpegts', type: type, details: detail, fatal: true, info: info });
      });
      p.attachMediaElement(video);
      p.load();
      try { Promise.resolve(p.play()).catch((e) => st.notes.push('play() rejected: ' + e)); }
      catch (e) { st.notes.push('play() threw: ' + e); }
    }
  } catch (e) {
    fail({ source: 'page', message: String(e && e.stack || e) });
  }
})();
</script>
</body></html>
`;
}

function startStaticServer() {
  const html = pageHtml();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://127.0.0.1').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405); res.end(); return; }
    if (p === '/' || p === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : html);
      return;
    }
    const file = LIBS[p];
    if (file) {
      fs.readFile(file, (err, buf) => {
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

// ---- main ------------------------------------------------------------------
async function main() {
  for (const f of Object.values(LIBS)) {
    if (!fs.existsSync(f)) {
      result.errors.push({ source: 'checker', message: `missing ${f}: run npm ci in ${HERE}` });
      return;
    }
  }
  const deadline = t0 + opts.timeout * 1000;
  let server;
  let browser;
  try {
    server = await startStaticServer();
    const pageUrl = `http://127.0.0.1:${server.address().port}/`;
    log('page server at', pageUrl);

    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      timeout: Math.max(5000, deadline - Date.now()),
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
        '--disable-dev-shm-usage',
        '--no-proxy-server',
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
    while (Date.now() < deadline) {
      const s = await page.evaluate(() => {
        const v = document.getElementById('v');
        const st = window.__state || { errors: [], notes: [] };
        return {
          t: v.currentTime, w: v.videoWidth, h: v.videoHeight, rs: v.readyState,
          paused: v.paused, errors: st.errors, notes: st.notes, nonFatal: st.nonFatal,
        };
      });
      last = s;
      result.currentTime = s.t;
      result.videoWidth = s.w;
      result.videoHeight = s.h;
      if (result.startTime === null && s.t > 0) result.startTime = s.t;
      result.advanced = result.startTime === null ? 0 : +(s.t - result.startTime).toFixed(3);
      if (s.errors.length) { result.errors.push(...s.errors); break; }
      if (result.errors.length) break; // uncaught page exception
      if (result.advanced >= opts.seconds) { result.ok = true; break; }
      if (opts.verbose) log(`t=${s.t.toFixed(2)} readyState=${s.rs} paused=${s.paused} ${s.w}x${s.h} nonFatal=${s.nonFatal}`);
      await sleep(POLL_MS);
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
