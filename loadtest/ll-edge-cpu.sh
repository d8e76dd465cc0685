#!/usr/bin/env bash
# CPU of one edge per 1,000 LL-HLS viewers, against the same edge's MPEG-TS HLS viewers in the
# same run: the local cluster (release build), one 2.5 Mb/s 720p30 stream published on origin 1,
# and ferrocast-loadtest's viewers on edge 1 (LL-HLS: blocking playlist reloads and every part,
# like a low-latency player; HLS: a playlist reload per target duration and every segment).
# The edge's CPU (utime + stime from /proc) is read over WINDOW seconds once every viewer is
# receiving; the edge's CPU with no viewers is measured first and subtracted.
#
#   loadtest/ll-edge-cpu.sh [WINDOW] [VIEWERS]    # default 20 s, 1000 viewers
# Needs scripts/install-test-deps.sh. Loopback only; everything is stopped by PID.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source loadtest/ll-common.sh
WINDOW=${1:-20}
VIEWERS=${2:-1000}
RAMP=5
cargo build --release -q -p ferrocast-loadtest
LOADTEST=target/release/ferrocast-loadtest
ulimit -n 65536 2>/dev/null || true
HZ=$(getconf CLK_TCK)

start_target cluster
ffmpeg -nostdin -v quiet -re -stream_loop -1 -i "$CLIP" -c copy -f flv "$PUBLISH" & PIDS+=($!)
wait_ll "$LL"
sleep 5

edge_cores() { # the edge's cores over WINDOW seconds
  local c0 c1; c0=$(cpu_ticks "${SERVER_PIDS[@]}"); sleep "$WINDOW"; c1=$(cpu_ticks "${SERVER_PIDS[@]}")
  awk -v d=$((c1 - c0)) -v hz="$HZ" -v w="$WINDOW" 'BEGIN { printf "%.4f", d / hz / w }'
}
idle=$(edge_cores)
echo "edge 1 with no viewers: $idle cores; window ${WINDOW}s; $VIEWERS viewers per run"
printf '%-7s %7s %9s %11s %10s %9s %7s %7s\n' kind viewers receiving edge_cores per_1000 requests stalls errors
for kind in ll hls; do
  case "$kind" in ll) load=(--ll-url "$LL" --ll-viewers "$VIEWERS") ;; hls) load=(--hls-url "$TS" --hls-viewers "$VIEWERS") ;; esac
  "$LOADTEST" --quiet --duration $((RAMP + 6 + WINDOW + 3))s --ramp ${RAMP}s "${load[@]}" \
    --json "$WORK/$kind.json" 2>"$WORK/$kind.log" & LT=$!; PIDS+=("$LT")
  sleep $((RAMP + 6))
  cores=$(edge_cores)
  wait "$LT" || true
  python3 - "$kind" "$VIEWERS" "$cores" "$idle" "$WORK/$kind.json" <<'PY'
import json, sys
kind, viewers, cores, idle, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
s = json.load(open(path))[kind]
requests = s["playlists"] + s.get("parts", s.get("segments", 0))
print(f"{kind:<7} {viewers:>7} {s['viewers_receiving']:>9} {cores:>11.3f} {(cores - idle) * 1000 / viewers:>10.3f} "
      f"{requests:>9} {s['stalls']:>7} {s['errors']['total']:>7}")
PY
done
stop_target
