// Starts node-media-server 4.4.x for loadtest/benchmark.sh, configured in code: RTMP ingest
// and play and HTTP-FLV (/<app>/<name>.flv) on one loopback address, and nothing else — no
// admin API (no auth.jwt), no web console, no recording, no TLS listeners, no webhook.
// NMS 4.x has no HLS (2.x made it by running ffmpeg; 4.x dropped that), so its ingest cost is
// remuxing into its FLV and RTMP GOP caches only.
//
// Usage: node nms.js <rtmp port> <http port> <data dir>
// Prints "ready" on stdout once both ports listen; SIGTERM or SIGINT stop it.
"use strict";

const fs = require("fs");
const net = require("net");
const path = require("path");
const NodeMediaServer = require("node-media-server");
const logger = require("node-media-server/src/core/logger.js");

const [rtmpPort, httpPort, dataDir] = process.argv.slice(2);
if (!rtmpPort || !httpPort || !dataDir) {
  console.error("usage: node nms.js <rtmp port> <http port> <data dir>");
  process.exit(2);
}
fs.mkdirSync(dataDir, { recursive: true });

const config = {
  bind: "127.0.0.1",
  rtmp: { port: Number(rtmpPort) },
  http: { port: Number(httpPort) },
  store: { path: path.join(dataDir, "store") },
  record: { auto: false, path: path.join(dataDir, "record") },
  webadmin: { enable: false },
  notify: { url: "" },
  auth: { play: false, publish: false, secret: "" },
};

const nms = new NodeMediaServer(config, path.join(dataDir, "config.json"));
// The constructor sets "debug"; the sessions log one "info" line per connection either way.
logger.level = "info";
nms.run();

// Ready when both listeners accept.
function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => { socket.destroy(); resolve(true); });
    socket.once("error", () => resolve(false));
  });
}
(async () => {
  for (let i = 0; i < 100; i++) {
    if ((await listening(config.rtmp.port)) && (await listening(config.http.port))) {
      console.log("ready");
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error("node-media-server did not listen within 10 s");
  process.exit(1);
})();

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    if (stopping) process.exit(1);
    stopping = true;
    await nms.stop();
    process.exit(0);
  });
}
