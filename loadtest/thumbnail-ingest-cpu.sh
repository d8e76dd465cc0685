#!/usr/bin/env bash
# Does a thumbnail load cost ingest anything? In the cluster, ingest runs on the origins and
# thumbnails are made on the edges, so this measures the ingesting origin's CPU while edge 1
# answers thumbnail requests. The local cluster (release build), one 2.5 Mb/s 720p30 publish
# to origin 1 (ferrocast-loadtest's publisher) watched by 5 HTTP-FLV viewers on edge 1 (so the
# edge holds the stream's relay subscription in every phase, as for a watched stream), then
# three phases of WINDOW seconds, the cluster started once:
#   none    no thumbnail requests                                     (the baseline)
#   same    wrk, 20 connections, /thumbnail/<id>.jpg every 50 ms each  (~400 req/s)
#   widths  the same, each request a random ?width= (the decoder at its rate cap)
# For each phase: origin 1's CPU (utime+stime from /proc), as a ratio of the baseline; edge
# 1's CPU; the thumbnail answers; and ingest's health as the publisher and viewers saw it.
# Loopback only; every process it starts is stopped by PID. Needs wrk and jq.
# Usage: loadtest/thumbnail-ingest-cpu.sh [window_s]   (default 30)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source loadtest/ll-common.sh
WINDOW=${1:-30}
for tool in wrk jq curl; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (scripts/install-bench-deps.sh)" >&2; exit 2; }
done
cargo build --release -q -p ferrocast-loadtest
LOADTEST=target/release/ferrocast-loadtest
HZ=$(getconf CLK_TCK)

start_target cluster
THUMB=${FLV/\/live\//\/thumbnail\/}; THUMB=${THUMB%.flv}.jpg
"$LOADTEST" --quiet --duration "$((3 * (WINDOW + 6) + 20))s" --flv "$CLIP" --publish-url "$PUBLISH" \
  --flv-url "$FLV" --flv-viewers 5 --json "$WORK/load.json" >"$WORK/load.log" 2>&1 &
LOAD=$!; PIDS+=("$LOAD")
for _ in $(seq 300); do curl -sf -o /dev/null "$THUMB" && break; sleep 0.1; done
sleep 5


echo "== local cluster, one 2.5 Mb/s 720p30 publish on origin 1, 5 HTTP-FLV viewers on edge 1, ${WINDOW}s windows ($(nproc) cores)"
printf '%-7s %12s %8s %12s %10s %9s\n' phase origin_cores ratio edge_cores requests non_2xx
BASE=""
for phase in none same widths; do
  WRK=""
  if [ "$phase" != none ]; then
    wrk -t1 -c20 -d"$((WINDOW + 2))s" -s "loadtest/bench/thumbnail-$phase.lua" "$THUMB" >"$WORK/$phase.wrk" 2>&1 &
    WRK=$!; PIDS+=("$WRK")
    sleep 1
  fi
  o0=$(cpu_ticks "$ORIGIN_PID_1"); e0=$(cpu_ticks "$EDGE_PID_1")
  sleep "$WINDOW"
  o1=$(cpu_ticks "$ORIGIN_PID_1"); e1=$(cpu_ticks "$EDGE_PID_1")
  requests=0; non2xx=0
  if [ -n "$WRK" ]; then
    wait "$WRK"
    requests=$(awk '/requests in/ {print $1}' "$WORK/$phase.wrk")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/$phase.wrk"); non2xx=${non2xx:-0}
  fi
  origin=$(awk -v d=$((o1 - o0)) -v hz="$HZ" -v w="$WINDOW" 'BEGIN { printf "%.4f", d / hz / w }')
  edge=$(awk -v d=$((e1 - e0)) -v hz="$HZ" -v w="$WINDOW" 'BEGIN { printf "%.4f", d / hz / w }')
  BASE=${BASE:-$origin}
  ratio=$(awk -v o="$origin" -v b="$BASE" 'BEGIN { printf "%.2f", o / b }')
  printf '%-7s %12s %8s %12s %10s %9s\n' "$phase" "$origin" "$ratio" "$edge" "$requests" "$non2xx"
  sleep 3 # the edge's decoder queue drains between phases
done
wait "$LOAD" || true
jq -r '"ingest over the whole run: publisher max send lag \(.publishers.max_send_lag_ms) ms, errors \(.publishers.errors.total) | flv viewers: stalls \(.flv.stalls), gaps \(.flv.gaps), dropped \(.flv.dropped_frames), latency p50 \(.flv.latency_ms.p50_ms) p99 \(.flv.latency_ms.p99_ms) ms"' "$WORK/load.json"
stop_target
