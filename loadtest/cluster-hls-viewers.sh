#!/usr/bin/env bash
# Measures the local cluster (deploy/local-cluster.sh, release build):
#   1. publish → first playlist on an edge, through S3 + Redis (3 fresh streams);
#   2. with 50 HLS viewers (ffmpeg, 25 per edge) on one 2.5 Mb/s stream for a fixed window:
#      each edge's segment-cache hit ratio and the S3 GETs per segment.
# Loopback only; everything it starts is stopped by PID. Usage: loadtest/cluster-hls-viewers.sh [window_s]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WINDOW=${1:-30}

LOCAL_CLUSTER_BIN="$BIN" deploy/local-cluster.sh >"$WORK/cluster.env" &
PIDS+=($!)
until grep -q READY=1 "$WORK/cluster.env"; do sleep 0.2; done
# shellcheck disable=SC1090
source <(grep = "$WORK/cluster.env")

create_stream() {
  curl -sf -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d '{"name":"bench"}' "$ADMIN_URL/v1/streams"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

echo "== publish -> first playlist on edge 1 (through S3 + Redis)"
for run in 1 2 3; do
  stream=$(create_stream); key=$(field stream_key <<<"$stream"); playback=$(field playback_id <<<"$stream")
  t0=$(now_ms)
  ffmpeg -nostdin -v quiet -re -i "$CLIP" -c copy -f flv "$ORIGIN_RTMP_1/$key" & pub=$!
  until curl -sf "$EDGE_URL_1/hls/$playback/index.m3u8" | grep -q '\.ts$'; do sleep 0.02; done
  echo "run $run: $(( $(now_ms) - t0 )) ms"
  kill "$pub"; wait "$pub" 2>/dev/null || true
done

echo "== 50 HLS viewers (25 per edge), ${WINDOW}s"
stream=$(create_stream); key=$(field stream_key <<<"$stream"); playback=$(field playback_id <<<"$stream")
ffmpeg -nostdin -v quiet -re -stream_loop -1 -i "$CLIP" -c copy -f flv "$ORIGIN_RTMP_1/$key" & PIDS+=($!)
until curl -sf "$EDGE_URL_2/hls/$playback/index.m3u8" | grep -q '\.ts$'; do sleep 0.1; done
first_msn=$(curl -s "$EDGE_URL_1/hls/$playback/index.m3u8" | grep '\.ts$' | tail -1 | cut -d. -f1)
stats() { grep 'segment cache' "$LOG_DIR/$1.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g' | grep -o '[a-z_]*=[0-9]*' | tr '\n' ' '; }
before_1=$(stats edge-1); before_2=$(stats edge-2)
for edge in "$EDGE_URL_1" "$EDGE_URL_2"; do
  for _ in $(seq 25); do
    timeout $((WINDOW + 5)) ffmpeg -nostdin -v quiet -i "$edge/hls/$playback/index.m3u8" -c copy -f null - & PIDS+=($!)
  done
done
sleep "$WINDOW"; sleep 11 # the edges log their counters every 10 s
last_msn=$(curl -s "$EDGE_URL_1/hls/$playback/index.m3u8" | grep '\.ts$' | tail -1 | cut -d. -f1)
echo "segments published in the window: $((last_msn - first_msn))"
for edge in edge-1 edge-2; do echo "$edge: $(stats $edge)"; done
echo "(counters before the viewers: edge-1 $before_1 / edge-2 $before_2)"
