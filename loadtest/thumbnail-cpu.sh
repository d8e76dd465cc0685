#!/usr/bin/env bash
# Does a thumbnail load slow ingest down? `ferrocast dev` (release) with one 2.5 Mb/s 720p30
# publish (ferrocast-loadtest's publisher, latency-stamped) and its viewers (5 HTTP-FLV, 2 HLS),
# measured in three phases of WINDOW seconds each, the server started once:
#   none    no thumbnail requests                                        (the baseline)
#   same    20 connections (wrk) asking /thumbnail/<id>.jpg every 50 ms   (~400 req/s, the
#           realistic case: one decode per keyframe, the rest from the cache)
#   widths  the same, each request a random ?width= from 16 to 1920      (worst case: nearly
#           every request a miss, so the decoder runs at edge.thumbnails.max_decodes_per_second
#           and the rest are refused 503)
# For each phase it reports the health of ingest as its outputs show it (the publisher's send
# lag, HTTP-FLV latency p50/p99, stalls and gaps, HLS stalls and segment latency), the server
# process's CPU (utime+stime from /proc/<pid>/stat), the CPU of its decoder thread
# (`thumbs-decode`, /proc/<pid>/task/<tid>/stat) and the rest, the decodes and their mean time
# (from /metrics), the thumbnail answers, and the CPU the rest of the machine used meanwhile
# (/proc/stat less this benchmark's processes; the machine is shared, so read it).
# Loopback only; every process it starts is stopped by PID. Needs wrk and jq.
# Usage: loadtest/thumbnail-cpu.sh [window_s]   (default 30)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WINDOW=${1:-30}
for tool in wrk jq curl; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (scripts/install-bench-deps.sh)" >&2; exit 2; }
done
cargo build --release -q -p ferrocast-loadtest
# Where cargo put them (common.sh assumes ./target).
BIN=${CARGO_TARGET_DIR:-target}/release/ferrocast
LOADTEST=${CARGO_TARGET_DIR:-target}/release/ferrocast-loadtest
HZ=$(getconf CLK_TCK)

FERROCAST_OPS_LISTEN=127.0.0.1:0 "$BIN" dev --rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --data-dir "$WORK/data" >"$WORK/urls" 2>"$WORK/log" &
SERVER=$!; PIDS+=("$SERVER")
for _ in $(seq 200); do grep -q '^Metrics: ' "$WORK/urls" && break; sleep 0.1; done
PUBLISH=$(sed -n 's/^RTMP publish URL: //p' "$WORK/urls")
HLS=$(sed -n 's/^HLS: //p' "$WORK/urls")
FLV=$(sed -n 's/^HTTP-FLV: //p' "$WORK/urls")
METRICS=$(sed -n 's/^Metrics: //p' "$WORK/urls")
THUMB=${FLV/\/live\//\/thumbnail\/}; THUMB=${THUMB%.flv}.jpg
[ -n "$METRICS" ] || { echo "dev did not start:"; cat "$WORK/log"; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
decoder_tid() { grep -lx 'thumbs-decode' /proc/"$SERVER"/task/*/comm | head -n1 | cut -d/ -f5; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
series() { curl -sf "$METRICS" | awk -v s="$1" '$1 == s {print $2; found=1} END {if (!found) print 0}'; }


# One line of counters: server, decoder thread, loadtest and wrk CPU ticks, the machine's busy
# ticks, then decodes, decode seconds, and refusals by rate and by queue from /metrics.
snapshot() {
  local tid=$1 load=$2 wrk_pid=$3
  echo "$(ticks "$SERVER") $(ticks "$SERVER/task/$tid") $(ticks "$load")" \
    "$([ -n "$wrk_pid" ] && ticks "$wrk_pid" || echo 0) $(busy_ticks)" \
    "$(series 'ferrocast_edge_thumbnail_decodes_total{outcome="ok"}')" \
    "$(series 'ferrocast_edge_thumbnail_decode_seconds_sum')" \
    "$(series 'ferrocast_edge_thumbnail_refused_total{reason="rate"}')" \
    "$(series 'ferrocast_edge_thumbnail_refused_total{reason="queue"}')"
}

# phase name, wrk script ("" for no thumbnail load)
phase() {
  local name=$1 script=$2
  local summary=$WORK/$name.json
  "$LOADTEST" --quiet --duration "$((WINDOW + 8))s" --flv "$CLIP" --publish-url "$PUBLISH" \
    --flv-url "$FLV" --flv-viewers 5 --hls-url "$HLS" --hls-viewers 2 --json "$summary" \
    >"$WORK/$name.loadtest.log" 2>&1 &
  local load=$!; PIDS+=("$load")
  # The publish is live once its keyframe makes a thumbnail.
  for _ in $(seq 150); do curl -sf -o /dev/null "$THUMB" && break; sleep 0.1; done
  sleep 2
  local wrk_pid=""
  if [ -n "$script" ]; then
    wrk -t1 -c20 -d"$((WINDOW + 2))s" -s "$script" "$THUMB" >"$WORK/$name.wrk" 2>&1 &
    wrk_pid=$!; PIDS+=("$wrk_pid")
    sleep 1
  fi
  local tid; tid=$(decoder_tid)
  local before after
  before=$(snapshot "$tid" "$load" "$wrk_pid")
  sleep "$WINDOW"
  after=$(snapshot "$tid" "$load" "$wrk_pid")
  local s0 t0 l0 w0 m0 d0 n0 r0 q0 s1 t1 l1 w1 m1 d1 n1 r1 q1
  read -r s0 t0 l0 w0 m0 d0 n0 r0 q0 <<<"$before"
  read -r s1 t1 l1 w1 m1 d1 n1 r1 q1 <<<"$after"
  [ -n "$wrk_pid" ] && wait "$wrk_pid"
  wait "$load" || true
  local requests=0 non2xx=0
  if [ -n "$script" ]; then
    requests=$(awk '/requests in/ {print $1}' "$WORK/$name.wrk")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/$name.wrk"); non2xx=${non2xx:-0}
  fi
  awk -v n="$name" -v hz="$HZ" -v w="$WINDOW" -v s=$((s1 - s0)) -v t=$((t1 - t0)) \
      -v other=$(((m1 - m0) - (s1 - s0) - (l1 - l0) - (w1 - w0))) -v l=$((l1 - l0)) -v wr=$((w1 - w0)) \
      -v d="$d0 $d1" -v sec="$n0 $n1" -v r="$r0 $r1" -v q="$q0 $q1" -v req="$requests" -v bad="$non2xx" '
    BEGIN {
      split(d, D, " "); split(sec, S, " "); split(r, R, " "); split(q, Q, " ")
      dec = D[2] - D[1]; mean = dec > 0 ? 1000 * (S[2] - S[1]) / dec : 0
      printf "%-7s server %.3f cores (decoder thread %.3f, rest %.3f) | decodes %.2f/s, mean %.1f ms | ", \
        n, s/hz/w, t/hz/w, (s-t)/hz/w, dec/w, mean
      printf "thumbnails %d requests, %d not 2xx, refused rate %d queue %d | loadtest %.3f, wrk %.3f, rest of machine %.3f cores\n", \
        req, bad, R[2]-R[1], Q[2]-Q[1], l/hz/w, wr/hz/w, other/hz/w
    }'
  jq -r --arg n "$name" '"\($n)    publisher max send lag \(.publishers.max_send_lag_ms) ms | flv latency p50 \(.flv.latency_ms.p50_ms) p99 \(.flv.latency_ms.p99_ms) ms, stalls \(.flv.stalls), gaps \(.flv.gaps), dropped \(.flv.dropped_frames) | hls latency p50 \(.hls.latency_ms.p50_ms // "n/a") ms, stalls \(.hls.stalls), skipped \(.hls.skipped_segments) | errors \(.publishers.errors.total + .flv.errors.total + .hls.errors.total)"' "$summary"
}

echo "== ferrocast dev, one 2.5 Mb/s 720p30 publish, ${WINDOW}s windows ($(nproc) cores)"
phase none ""
phase same loadtest/bench/thumbnail-same.lua
phase widths loadtest/bench/thumbnail-widths.lua
