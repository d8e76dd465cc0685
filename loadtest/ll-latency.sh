#!/usr/bin/env bash
# Glass-to-glass latency as a viewer sees it, on `ferrocast dev` and through the local cluster
# (publish on origin 1, play on edge 1): loadtest/g2g-publish.sh stamps the wall clock into
# every frame it sends; headless Chromium plays the stream with hls.js in low-latency mode
# (LL-HLS), with mpegts.js (HTTP-FLV, the low-latency peer) and with hls.js on the MPEG-TS HLS
# playlist (the legacy path), and reads the stamp of every frame it presents
# (scripts/browser/play.mjs g2g). Prints p50 / p99 / max in ms over SECONDS of playback per
# player. One publisher and one player at a time; release build; loopback only; everything it
# starts is stopped by PID.
#
#   loadtest/ll-latency.sh [SECONDS]      # default 60
# Needs scripts/install-test-deps.sh (Chromium, players, redis-server, s3s-fs).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source loadtest/ll-common.sh
SECONDS_PLAYED=${1:-60}

echo "chromium: $(chromium --version 2>/dev/null | head -1); $SECONDS_PLAYED s of playback per player"
printf '%-8s %-7s %7s %7s %7s %7s %9s\n' target player frames p50_ms p99_ms max_ms misreads
for target in dev cluster; do
  start_target "$target"
  loadtest/g2g-publish.sh "$PUBLISH" 2>"$WORK/publish.log" & PUB=$!; PIDS+=("$PUB")
  wait_ll "$LL"
  sleep 4 # a few segments, so the TS player has the window it starts from
  for player in hls-ll flv hls; do
    case "$player" in hls-ll) url=$LL ;; flv) url=$FLV ;; hls) url=$TS ;; esac
    node scripts/browser/play.mjs --kind g2g --player "$player" --url "$url" \
      --seconds "$SECONDS_PLAYED" --timeout $((SECONDS_PLAYED + 60)) >"$WORK/g2g.json" || true
    python3 - "$target" "$player" "$WORK/g2g.json" <<'PY'
import json, sys
target, player, path = sys.argv[1:]
r = json.load(open(path))
if not r.get("ok"):
    print(f"{target:<8} {player:<7} failed: {r.get('errors')}")
else:
    print(f"{target:<8} {player:<7} {r['count']:>7} {r['p50']:>7} {r['p99']:>7} {r['max']:>7} {r.get('misreads', 0):>9}")
PY
  done
  kill "$PUB" 2>/dev/null || true; wait "$PUB" 2>/dev/null || true
  stop_target
done
