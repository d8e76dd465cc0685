#!/usr/bin/env bash
# Measures `ferrocast dev` (release build) with one 2.5 Mb/s 720p30 stream:
#   1. time from the publisher's start to the first playable playlist (5 runs);
#   2. CPU and RSS with 0 and with 20 HTTP-FLV viewers (curl), over a fixed window.
# Loopback only; every process it starts is stopped by PID. Usage: loadtest/dev-footprint.sh [window_s]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WINDOW=${1:-30}

start_server() {
  "$BIN" dev --rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$WORK/data" >"$WORK/urls" 2>"$WORK/log" &
  SERVER=$!; PIDS+=("$SERVER")
  for _ in $(seq 100); do [ "$(wc -l <"$WORK/urls")" -ge 5 ] && break; sleep 0.1; done
  PUBLISH=$(sed -n 's/^RTMP publish URL: //p' "$WORK/urls")
  HLS=$(sed -n 's/^HLS: //p' "$WORK/urls")
  FLV=$(sed -n 's/^HTTP-FLV: //p' "$WORK/urls")
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

echo "== time from publisher start to first playable playlist"
for run in 1 2 3 4 5; do
  start_server
  t0=$(now_ms)
  ffmpeg -nostdin -v quiet -re -i "$CLIP" -c copy -f flv "$PUBLISH" & PUB=$!; PIDS+=("$PUB")
  until curl -sf "$HLS" | grep -q '\.ts$'; do sleep 0.02; done
  echo "run $run: $(( $(now_ms) - t0 )) ms"
  kill "$PUB" "$SERVER"; wait "$PUB" "$SERVER" 2>/dev/null || true
done

echo "== CPU and RSS over ${WINDOW}s (one 2.5 Mb/s stream)"
start_server
ffmpeg -nostdin -v quiet -re -stream_loop -1 -i "$CLIP" -c copy -f flv "$PUBLISH" & PIDS+=($!)
until curl -sf "$HLS" | grep -q '\.ts$'; do sleep 0.1; done
measure() {
  local label=$1 hz; hz=$(getconf CLK_TCK)
  local c0; c0=$(cpu_ticks "$SERVER"); local peak=0
  for _ in $(seq "$WINDOW"); do sleep 1; r=$(rss_kb "$SERVER"); [ "$r" -gt "$peak" ] && peak=$r; done
  local c1; c1=$(cpu_ticks "$SERVER")
  awk -v l="$label" -v d=$((c1 - c0)) -v hz="$hz" -v w="$WINDOW" -v p="$peak" \
    'BEGIN { printf "%s: CPU %.1f%% of one core, peak RSS %.1f MiB\n", l, 100*d/hz/w, p/1024 }'
}
sleep 3; measure "0 viewers"
for _ in $(seq 20); do curl -s -o /dev/null --max-time $((WINDOW + 20)) "$FLV" & PIDS+=($!); done
sleep 3; measure "20 FLV viewers"
