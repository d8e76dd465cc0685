// The player pages play.mjs serves from its own 127.0.0.1 server, one per kind, and the
// in-page glass-to-glass reader. Each page keeps its progress in `window.__state`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStamp, msBehind } from './g2g.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const lib = (...parts) => path.join(HERE, 'node_modules', ...parts);

/** The player scripts the static server may serve, by URL path. */
export const LIBS = {
  '/lib/hls.js': lib('hls.js', 'dist', 'hls.min.js'),
  '/lib/mpegts.js': lib('mpegts.js', 'dist', 'mpegts.js'),
  '/lib/dash.js': lib('dashjs', 'dist', 'modern', 'umd', 'dash.all.min.js'),
  '/lib/shaka.js': lib('shaka-player', 'dist', 'shaka-player.compiled.js'),
};

/** Which script each kind loads. */
export const LIB_OF = {
  hls: '/lib/hls.js',
  'hls-ll': '/lib/hls.js',
  flv: '/lib/mpegts.js',
  dash: '/lib/dash.js',
  shaka: '/lib/shaka.js',
};

/** The kinds a page can be built for (g2g plays with one of these). */
export const PAGE_KINDS = Object.keys(LIB_OF);

// ---- in-page code, sent as source text ---------------------------------------------------

// Starts one player on `video`; reports fatal errors through `fail` and extras into `st`.
function startPlayer(CFG, video, st, fail, play) {
  if (CFG.kind === 'hls' || CFG.kind === 'hls-ll') {
    if (typeof Hls === 'undefined') return fail({ source: 'checker', message: 'hls.js did not load' });
    if (!Hls.isSupported()) return fail({ source: 'hls', message: 'Hls.isSupported() is false (no MSE?)' });
    const low = CFG.kind === 'hls-ll';
    const hls = window.__player = new Hls({ lowLatencyMode: low });
    st.parts = 0;
    st.fragments = 0;
    hls.on(Hls.Events.FRAG_LOADED, (_ev, d) => { if (d && d.part) st.parts++; else st.fragments++; });
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
    st.latency = () => (hls.latency > 0 ? hls.latency : null);
    hls.loadSource(CFG.url);
    hls.attachMedia(video);
  } else if (CFG.kind === 'flv') {
    if (typeof mpegts === 'undefined') return fail({ source: 'checker', message: 'mpegts.js did not load' });
    if (!mpegts.getFeatureList().mseLivePlayback) return fail({ source: 'mpegts', message: 'mseLivePlayback not supported' });
    mpegts.LoggingControl.enableAll = false;
    const p = window.__player = mpegts.createPlayer({ type: 'flv', isLive: true, url: CFG.url },
      // g2g measures a low-latency viewer: no stash, and chase the live edge as the watch page does.
      CFG.g2g ? { enableStashBuffer: false, liveBufferLatencyChasing: true } : {});
    p.on(mpegts.Events.ERROR, (type, detail, info) => fail({ source: 'mpegts', type, details: detail, fatal: true, info }));
    p.attachMediaElement(video);
    p.load();
    play(p);
  } else if (CFG.kind === 'dash') {
    if (typeof dashjs === 'undefined') return fail({ source: 'checker', message: 'dash.js did not load' });
    const p = window.__player = dashjs.MediaPlayer().create();
    // No MPD clock source: dash.js would ask a public time server. The MPD's own server's
    // Date header is the offline stand-in (an MPD's UTCTiming still comes first).
    p.updateSettings({ debug: { logLevel: 1 }, streaming: { utcSynchronization: {
      defaultTimingSource: { scheme: 'urn:mpeg:dash:utc:http-head:2014', value: CFG.url } } } });
    p.on(dashjs.MediaPlayer.events.ERROR, (e) => {
      const error = (e && e.error) || e || {};
      // 16 = time synchronization failed: dash.js falls back to the local clock and plays.
      // dash.js reports recoverable ones (a segment not there yet: it retries) the same way,
      // so only a manifest that cannot be loaded (25) or parsed (10) ends the run; the rest
      // fail it only if playback then does not advance.
      if (error.code !== 25 && error.code !== 10) {
        if (st.notes.length < 50) st.notes.push('dash.js error ' + error.code + ': ' + error.message);
        return;
      }
      fail({ source: 'dash', code: error.code, message: String(error.message || JSON.stringify(error)).slice(0, 500) });
    });
    st.latency = () => { const l = p.getCurrentLiveLatency(); return l > 0 ? l : null; };
    p.initialize(video, CFG.url, true);
  } else if (CFG.kind === 'shaka') {
    if (typeof shaka === 'undefined') return fail({ source: 'checker', message: 'Shaka Player did not load' });
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) return fail({ source: 'shaka', message: 'browser not supported' });
    const p = window.__player = new shaka.Player();
    // Shaka plays LL-HLS parts and preload hints only in its low-latency mode (off by default).
    p.configure({ streaming: { lowLatencyMode: true } });
    // Shaka retries what it calls RECOVERABLE (severity 1), such as one 404: only a CRITICAL
    // error (2) ends the run; the others are noted, and fail it only if playback stalls.
    const describe = (d) => ({ source: 'shaka', code: d && d.code, severity: d && d.severity,
      data: JSON.stringify(d && d.data || null).slice(0, 300) });
    p.addEventListener('error', (e) => {
      const d = e.detail || {};
      if (d.severity === 2) fail(describe(d));
      else if (st.notes.length < 50) st.notes.push(describe(d));
    });
    st.latency = () => { const l = p.getStats().liveLatency; return l > 0 ? l : null; };
    p.attach(video)
      .then(() => p.load(CFG.url))
      .then(() => {
        const tracks = p.getVariantTracks();
        st.variants = tracks.length;
        const active = tracks.find((t) => t.active);
        st.active = active ? { bandwidth: active.bandwidth, codecs: active.codecs, mimeType: active.mimeType } : null;
        play();
      })
      .catch((e) => fail({ source: 'shaka', code: e && e.code, message: String(e && e.message || e) }));
  }
}

// The glass-to-glass reader: on every presented frame, read the barcode and record how far the
// frame's display time is behind its publish stamp.
function startG2g(video, st, readStampSrc, msBehindSrc) {
  const read = readStampSrc;
  const behind = msBehindSrc;
  st.g2g = [];
  st.misreads = 0;
  if (!('requestVideoFrameCallback' in HTMLVideoElement.prototype)) {
    st.errors.push({ source: 'g2g', message: 'requestVideoFrameCallback is not supported' });
    return;
  }
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const onFrame = (_now, meta) => {
    const width = video.videoWidth;
    if (width >= 40) {
      const band = Math.ceil(width / 40);
      if (canvas.width !== width || canvas.height !== band) { canvas.width = width; canvas.height = band; }
      ctx.drawImage(video, 0, 0, width, band, 0, 0, width, band);
      const px = ctx.getImageData(0, 0, width, band).data;
      // Rec. 601 luma from the canvas's RGB.
      const luma = (x, y) => { const i = (y * width + x) * 4; return 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2]; };
      const stamp = read(luma, width);
      // The frame's display time on the wall clock: the callback's expected display time is
      // on the performance clock, whose origin is a wall-clock instant.
      const shown = performance.timeOrigin + meta.expectedDisplayTime;
      if (stamp === null) st.misreads++;
      else if (st.g2g.length < 100000) st.g2g.push(behind(shown, stamp));
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

/** The HTML of the player page for `opts` (kind, url, g2g). */
export function pageHtml(opts) {
  const cfg = JSON.stringify({ kind: opts.kind, url: opts.url, g2g: !!opts.g2g }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ferrocast playback check</title>
<link rel="icon" href="data:,"></head>
<body>
<video id="v" muted playsinline autoplay width="640" height="360"></video>
<script src="${LIB_OF[opts.kind]}"></script>
<script>
(function () {
  const CFG = ${cfg};
  const st = window.__state = { errors: [], nonFatal: 0, notes: [], latency: () => null };
  const fail = (e) => { try { st.errors.push(JSON.parse(JSON.stringify(e))); } catch (_) { st.errors.push({ message: String(e) }); } };
  const video = document.getElementById('v');
  video.muted = true;
  // Time to first frame: from before the player is created to the first frame the browser
  // presents (requestVideoFrameCallback fires on presentation, not on decode).
  const started = performance.now();
  video.requestVideoFrameCallback(() => { st.firstFrameMs = Math.round(performance.now() - started); });
  video.addEventListener('error', () => {
    const me = video.error;
    fail({ source: 'video', code: me ? me.code : null, message: me ? me.message : 'media element error' });
  });
  const play = (player) => {
    try {
      Promise.resolve((player || video).play()).catch((e) => st.notes.push('play() rejected: ' + e));
    } catch (e) { st.notes.push('play() threw: ' + e); }
  };
  try {
    if (CFG.g2g) (${startG2g.toString()})(video, st, ${readStamp.toString()}, ${msBehind.toString()});
    (${startPlayer.toString()})(CFG, video, st, fail, play);
  } catch (e) {
    fail({ source: 'page', message: String(e && e.stack || e) });
  }
})();
</script>
</body></html>
`;
}
