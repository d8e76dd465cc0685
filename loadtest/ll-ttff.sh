#!/usr/bin/env bash
# Time to first frame in a real browser, on `ferrocast dev` and through the local cluster
# (publish on origin 1, play on edge 1): headless Chromium joins a live 2.5 Mb/s 720p30 stream
# (2 s GOP) RUNS times per player and reports `firstFrameMs` (scripts/browser/play.mjs): from
# the moment the page creates the player to the first frame Chromium presents. Players: hls.js
# in low-latency mode on the LL-HLS playlist, hls.js on the MPEG-TS playlist, mpegts.js on
# HTTP-FLV. Joins fall at random points of the GOP. Release build; loopback only; everything it
# starts is stopped by PID.
#
#   loadtest/ll-ttff.sh [RUNS]      # default 7
# Needs scripts/install-test-deps.sh.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source loadtest/ll-common.sh
RUNS=${1:-7}

echo "chromium: $(chromium --version 2>/dev/null | head -1); $RUNS joins per player"
printf '%-8s %-7s %5s %7s %7s %7s\n' target player joins p50_ms max_ms failed
for target in dev cluster; do
  start_target "$target"
  ffmpeg -nostdin -v quiet -re -stream_loop -1 -i "$CLIP" -c copy -f flv "$PUBLISH" & PUB=$!; PIDS+=("$PUB")
  wait_ll "$LL"
  sleep 5 # a few segments, so every player joins a steady stream
  for player in hls-ll hls flv; do
    case "$player" in hls-ll) url=$LL ;; flv) url=$FLV ;; hls) url=$TS ;; esac
    : >"$WORK/ttff"; failed=0
    for _ in $(seq "$RUNS"); do
      if node scripts/browser/play.mjs --kind "$player" --url "$url" --seconds 1 --timeout 30 >"$WORK/play.json"; then
        python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['firstFrameMs'])" "$WORK/play.json" >>"$WORK/ttff"
      else
        failed=$((failed + 1))
      fi
      sleep 0.$((RANDOM % 10)) # join at another point of the GOP
    done
    printf '%-8s %-7s %5s %7s %7s %7s\n' "$target" "$player" "$(wc -l <"$WORK/ttff")" \
      "$(percentile 50 "$WORK/ttff")" "$(percentile 100 "$WORK/ttff")" "$failed"
  done
  kill "$PUB" 2>/dev/null || true; wait "$PUB" 2>/dev/null || true
  stop_target
done
