// The ferrocast watch page: picks a player for ?player=, follows the stream's state (live,
// offline, ended) and shows the latency behind live once a second. Every URL it loads is
// built from the page's playback id under this origin: the query only picks among them, and
// a signed stream's ?token= (a JWT: base64url and dots only) is passed on to the player's URL.
(function () {
  'use strict';

  var root = document.getElementById('watch');
  var video = document.getElementById('video');
  var stateEl = document.getElementById('state');
  var latencyEl = document.getElementById('latency');
  var playerEl = document.getElementById('player');
  var messageEl = document.getElementById('message');
  var unmuteEl = document.getElementById('unmute');

  var id = encodeURIComponent(root.dataset.playbackId || '');
  var params = new URLSearchParams(location.search);
  var SOURCES = {
    ll: '../ll/' + id + '/index.m3u8',
    hls: '../hls/' + id + '/index.m3u8',
    flv: '../live/' + id + '.flv',
    dash: '../ll/' + id + '/manifest.mpd',
  };
  // ?recording=<id> plays that recording (live to VOD, docs/recordings.md) with hls.js: its
  // CMAF playlist where it has one, else its MPEG-TS one (recorded before CMAF was kept).
  var recording = params.get('recording');
  var vodCmaf = null;
  if (recording && /^rec_[A-Za-z0-9_-]{1,160}$/.test(recording)) {
    var vodDir = '../vod/' + id + '/' + encodeURIComponent(recording) + '/';
    SOURCES.vod = vodDir + 'index.m3u8';
    vodCmaf = vodDir + 'cmaf.m3u8';
  }
  var mode = SOURCES.vod ? 'vod'
    : Object.prototype.hasOwnProperty.call(SOURCES, params.get('player')) ? params.get('player') : 'll';
  var token = params.get('token');
  function withToken(path) {
    var url = new URL(path, location.href).href;
    return token && /^[A-Za-z0-9_.-]{1,2048}$/.test(token) ? url + '?token=' + token : url;
  }
  var source = withToken(SOURCES[mode]);
  var wantSound = params.get('muted') === '0';

  // What the page shows, for people and for the browser tests.
  var status = (window.__watch = { mode: mode, state: 'starting', latency: null, latencySource: null, player: null, rendition: null });

  document.querySelectorAll('#urls a[data-path]').forEach(function (link) {
    var absolute = new URL(link.dataset.path, location.href).href;
    link.href = absolute;
    link.textContent = absolute;
  });

  function setState(state) {
    status.state = state;
    stateEl.dataset.state = state;
    stateEl.textContent = state;
  }

  function say(text) {
    messageEl.hidden = !text;
    messageEl.textContent = text || '';
  }

  // ---- retrying calmly: 3 s doubling to 15 s, with jitter so viewers do not march in step --
  var RETRY_FIRST_MS = 3000;
  var RETRY_MAX_MS = 15000;
  var retryMs = RETRY_FIRST_MS;
  var retryTimer = null;
  var teardown = null;

  function stopPlayer() {
    if (teardown) {
      try { teardown(); } catch (e) { /* the player is going away anyway */ }
      teardown = null;
    }
    status.player = null;
    playerEl.textContent = '';
  }

  function retryLater(state, text) {
    stopPlayer();
    setState(state);
    say(text);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(start, retryMs * (0.8 + 0.4 * Math.random()));
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function onLive() {
    retryMs = RETRY_FIRST_MS;
    setState('live');
    say('');
  }

  function onEnded() {
    // A recording that played to its end stays where it is: nothing comes back.
    if (mode === 'vod') return setState('ended');
    retryLater('ended', 'The stream has ended. This page starts again when it comes back.');
  }

  // ---- is there a stream? ------------------------------------------------------------------
  // Answers 'live', 'ended' or 'offline' from the entry URL, without starting a player.
  function probe() {
    if (mode === 'flv') {
      var abort = new AbortController();
      return fetch(source, { signal: abort.signal, cache: 'no-store' }).then(function (response) {
        abort.abort(); // the headers are all we need: the body is the live stream
        return response.ok ? 'live' : 'offline';
      });
    }
    return fetchText(source).then(function (text) {
      if (text === null) return 'offline';
      if (mode === 'dash') return /type\s*=\s*"static"/.test(text) ? 'ended' : 'live';
      if (/#EXT-X-TARGETDURATION/.test(text)) return /#EXT-X-ENDLIST/.test(text) ? 'ended' : 'live';
      var media = firstUri(text);
      if (!media) return 'offline';
      return fetchText(new URL(media, source).href).then(function (playlist) {
        if (playlist === null) return 'offline';
        return /#EXT-X-ENDLIST/.test(playlist) ? 'ended' : 'live';
      });
    });
  }

  function fetchText(url) {
    return fetch(url, { cache: 'no-store' }).then(function (response) {
      return response.ok ? response.text() : null;
    });
  }

  function firstUri(playlist) {
    var lines = playlist.split('\n');
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i].trim();
      if (line && line.charAt(0) !== '#') return line;
    }
    return null;
  }

  // ---- players -----------------------------------------------------------------------------
  var loaded = {};

  function loadScript(key) {
    var name = root.dataset[key];
    if (!name) return Promise.reject(new Error('not installed'));
    if (!loaded[key]) {
      loaded[key] = new Promise(function (resolve, reject) {
        var script = document.createElement('script');
        script.src = 'assets/' + name;
        script.onload = resolve;
        script.onerror = function () { reject(new Error('failed to load')); };
        document.head.appendChild(script);
      });
    }
    return loaded[key];
  }

  function notInstalled(name) {
    stopPlayer();
    setState('unavailable');
    say('The player (' + name + ') is not installed on this server, so this page cannot play the ' +
      'stream here. The stream URLs below play in VLC, mpv, ffplay or Safari. Operators: see ' +
      'docs/adr/0018 (npm ci --omit=dev in scripts/browser, or edge.watch.assets_dir).');
    document.getElementById('urls').open = true;
  }

  function play() {
    video.muted = !wantSound;
    unmuteEl.hidden = !video.muted;
    var attempt = video.play();
    if (attempt && attempt.catch) {
      attempt.catch(function () {
        // Browsers refuse unmuted autoplay without a gesture: play muted and offer sound.
        if (!video.muted) {
          video.muted = true;
          unmuteEl.hidden = false;
          video.play().catch(function () { /* a click on the controls will start it */ });
        }
      });
    }
  }

  function startHlsJs() {
    return loadScript('hls').then(function () {
      var Hls = window.Hls;
      if (!Hls || !Hls.isSupported()) throw new Error('this browser has no Media Source Extensions');
      var hls = new Hls({ lowLatencyMode: mode === 'll', backBufferLength: 30 });
      status.player = hls;
      playerEl.textContent = mode === 'll' ? 'LL-HLS · hls.js'
        : mode === 'vod' ? 'recording (' + status.rendition + ') · hls.js' : 'HLS · hls.js';
      var endList = false;
      hls.on(Hls.Events.LEVEL_LOADED, function (_event, data) {
        endList = !!(data && data.details && !data.details.live);
      });
      hls.on(Hls.Events.ERROR, function (_event, data) {
        if (data && data.fatal) retryLater('offline', 'Waiting for the stream…');
      });
      hls.on(Hls.Events.MANIFEST_PARSED, play);
      var ended = function () { if (endList) onEnded(); };
      video.addEventListener('ended', ended);
      hls.loadSource(source);
      hls.attachMedia(video);
      teardown = function () {
        video.removeEventListener('ended', ended);
        hls.destroy();
      };
      latencyOf = function () {
        var date = hls.playingDate;
        if (date && date.getTime() > 0) return [(Date.now() - date.getTime()) / 1000, 'program-date-time'];
        if (hls.latency > 0) return [hls.latency, 'hls.js'];
        return null;
      };
    });
  }

  function startNative() {
    playerEl.textContent = 'HLS · native';
    video.src = source;
    var ended = function () { onEnded(); };
    var failed = function () { retryLater('offline', 'Waiting for the stream…'); };
    video.addEventListener('ended', ended);
    video.addEventListener('error', failed);
    teardown = function () {
      video.removeEventListener('ended', ended);
      video.removeEventListener('error', failed);
      video.removeAttribute('src');
      video.load();
    };
    latencyOf = function () {
      var start = video.getStartDate ? video.getStartDate().getTime() : NaN;
      if (start > 0) return [(Date.now() - (start + video.currentTime * 1000)) / 1000, 'program-date-time'];
      // No wall clock from this browser: how far playback is behind the live edge it knows.
      var seekable = video.seekable;
      if (!seekable.length) return null;
      return [seekable.end(seekable.length - 1) - video.currentTime, 'live-edge'];
    };
    play();
    return Promise.resolve();
  }

  function startFlv() {
    return loadScript('mpegts').then(function () {
      var mpegts = window.mpegts;
      if (!mpegts || !mpegts.getFeatureList().mseLivePlayback) throw new Error('this browser cannot play HTTP-FLV');
      mpegts.LoggingControl.enableAll = false;
      var player = mpegts.createPlayer({ type: 'flv', isLive: true, url: source },
        { enableStashBuffer: false, liveBufferLatencyChasing: true });
      status.player = player;
      playerEl.textContent = 'HTTP-FLV · mpegts.js';
      player.on(mpegts.Events.ERROR, function () { retryLater('offline', 'Waiting for the stream…'); });
      player.on(mpegts.Events.LOADING_COMPLETE, onEnded);
      player.attachMediaElement(video);
      player.load();
      play();
      teardown = function () {
        player.pause();
        player.unload();
        player.detachMediaElement();
        player.destroy();
      };
      // FLV carries no wall clock: what the page can tell is how far playback is behind the
      // newest frame received.
      latencyOf = function () {
        var buffered = video.buffered;
        if (!buffered.length) return null;
        return [buffered.end(buffered.length - 1) - video.currentTime, 'buffer'];
      };
    });
  }

  function startDash() {
    return loadScript('dash').then(function () {
      var dashjs = window.dashjs;
      var player = dashjs.MediaPlayer().create();
      status.player = player;
      playerEl.textContent = 'DASH · dash.js';
      // Without a UTCTiming in the MPD dash.js would ask a public time server: this edge's
      // Date header is the clock instead.
      player.updateSettings({ streaming: {
        delay: { liveDelay: 2 },
        liveCatchup: { enabled: true },
        utcSynchronization: { defaultTimingSource: { scheme: 'urn:mpeg:dash:utc:http-head:2014', value: source } },
      } });
      player.on(dashjs.MediaPlayer.events.ERROR, function (event) {
        var code = event && event.error && event.error.code;
        if (code !== 16) retryLater('offline', 'Waiting for the stream…'); // 16: clock sync, not fatal
      });
      player.on(dashjs.MediaPlayer.events.PLAYBACK_ENDED, onEnded);
      player.initialize(video, source, true);
      play();
      teardown = function () { player.reset(); };
      latencyOf = function () {
        var latency = player.getCurrentLiveLatency();
        return latency > 0 ? [latency, 'dash.js'] : null;
      };
    });
  }

  var latencyOf = function () { return null; };

  // HLS: hls.js wherever it can run (it has the low-latency mode and the program date), the
  // browser's own player where it cannot (iPhone Safari has no MSE) or is not installed.
  // canPlayType alone does not mean Safari: recent Chromium answers it too.
  function startPlayer() {
    var nativeHls = video.canPlayType('application/vnd.apple.mpegurl') !== '';
    if (mode === 'flv') return startFlv().catch(function () { notInstalled('mpegts.js'); });
    if (mode === 'dash') return startDash().catch(function () { notInstalled('dash.js'); });
    return startHlsJs().catch(function (error) {
      if (nativeHls) return startNative();
      if (error && error.message === 'not installed') notInstalled('hls.js');
      else retryLater('offline', String(error && error.message || error));
    });
  }

  function start() {
    retryTimer = null;
    stopPlayer();
    latencyOf = function () { return null; };
    if (mode === 'vod') {
      // A recording is there or it is not (expired, deleted): no waiting for it to go live.
      var cmaf = withToken(vodCmaf);
      var ts = withToken(SOURCES.vod);
      return fetchText(cmaf).then(function (text) {
        if (text !== null) return [cmaf, 'CMAF'];
        return fetchText(ts).then(function (tsText) { return tsText === null ? null : [ts, 'MPEG-TS']; });
      }).then(function (found) {
        if (found === null) {
          setState('unavailable');
          return say('This recording does not exist (any more).');
        }
        source = found[0];
        status.rendition = found[1];
        setState('starting');
        return startPlayer();
      }).catch(function () {
        retryLater('offline', 'Cannot reach the server; trying again.');
      });
    }
    probe().then(function (found) {
      if (found === 'offline') return retryLater('offline', 'No stream yet. This page starts playing when it goes live.');
      if (found === 'ended') return retryLater('ended', 'The stream has ended. This page starts again when it comes back.');
      setState('starting');
      return startPlayer();
    }).catch(function () {
      retryLater('offline', 'Cannot reach the server; trying again.');
    });
  }

  video.addEventListener('playing', function () {
    if (mode === 'vod') {
      setState('playing');
      return say('');
    }
    if (status.state === 'starting' || status.state === 'offline') onLive();
  });
  unmuteEl.addEventListener('click', function () {
    video.muted = false;
    unmuteEl.hidden = true;
  });

  setInterval(function () {
    var measured = status.state === 'live' ? latencyOf() : null;
    status.latency = measured ? Math.round(measured[0] * 1000) / 1000 : null;
    status.latencySource = measured ? measured[1] : null;
    latencyEl.dataset.seconds = measured ? String(status.latency) : '';
    latencyEl.dataset.source = status.latencySource || '';
    latencyEl.textContent = measured ? 'latency: ' + measured[0].toFixed(1) + ' s behind live' : 'latency: –';
  }, 1000);

  start();
})();
