#!/usr/bin/env node
// Checks the glass-to-glass stamps at the source: runs `G2G_RAW=1 loadtest/g2g-publish.sh`
// (the same filter graph, raw band frames to a pipe, no encoder) and compares each frame's
// stamp with Date.now() when the frame arrives. Prints one JSON line:
//   {"ok":true,"frames":90,"misreads":0,"behind":{"count":90,"p50":3,...}}
//
//   node scripts/browser/g2g-check.mjs [SECONDS=3] [OFFSET_MS=0]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStamp, msBehind, summarize } from './g2g.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.argv[2] || 3);
const offset = Number(process.argv[3] || 0);
const WIDTH = 1280;
const HEIGHT = 32;
const FRAME = WIDTH * HEIGHT;

const child = spawn(path.join(HERE, '..', '..', 'loadtest', 'g2g-publish.sh'), [], {
  env: { ...process.env, G2G_RAW: '1', G2G_SECONDS: String(seconds), G2G_OFFSET_MS: String(offset) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let pending = Buffer.alloc(0);
const behind = [];
let frames = 0;
let misreads = 0;
child.stdout.on('data', (chunk) => {
  const now = Date.now();
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= FRAME) {
    const frame = pending.subarray(0, FRAME);
    pending = pending.subarray(FRAME);
    frames++;
    const stamp = readStamp((x, y) => frame[y * WIDTH + x], WIDTH);
    if (stamp === null) misreads++;
    else behind.push(msBehind(now, stamp));
  }
});
child.on('close', (code) => {
  const ok = code === 0 && frames > 0 && misreads === 0;
  process.stdout.write(JSON.stringify({ ok, frames, misreads, offsetMs: offset, behind: summarize(behind) }) + '\n');
  process.exit(ok ? 0 : 1);
});
