# Shared by the low-latency measurements (ll-*.sh; source it after common.sh): start a target,
# `ferrocast dev` or the local cluster, and name its URLs for one new stream.
#
#   start_target dev|cluster   sets SERVER_PIDS (the processes whose CPU is the target's),
#                              PUBLISH (RTMP URL with key), LL (LL-HLS media playlist),
#                              TS (MPEG-TS HLS playlist), FLV (HTTP-FLV), EDGE (HTTP base)
#                              and EDGE2 (the cluster's second edge; empty on dev).
#   stop_target                stops it (by PID) so the next target starts on a quiet machine.
#   media_playlist URL         the first variant's media playlist when URL is a multivariant
#                              playlist (both /ll/ and /hls/ index.m3u8 are), else URL.
#   wait_ll URL                waits until the LL-HLS playlist (or its first variant) lists a
#                              part (at most 30 s).
#   cpu_ticks PID...           utime + stime of the processes, in clock ticks.
#   percentile P FILE          the P-th percentile (nearest rank) of the numbers in FILE.

TARGET_PIDS=()
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
percentile() { sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'; }

start_target() {
  case "$1" in
    dev)
      "$BIN" dev --rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$WORK/data-$$-$RANDOM" \
        >"$WORK/dev.urls" 2>"$WORK/dev.log" &
      TARGET_PIDS=($!); SERVER_PIDS=($!); PIDS+=($!)
      for _ in $(seq 150); do grep -q '^Watch: ' "$WORK/dev.urls" && break; sleep 0.1; done
      PUBLISH=$(sed -n 's/^RTMP publish URL: //p' "$WORK/dev.urls")
      LL=$(sed -n 's/^LL-HLS: //p' "$WORK/dev.urls")
      TS=$(sed -n 's/^HLS: //p' "$WORK/dev.urls")
      FLV=$(sed -n 's/^HTTP-FLV: //p' "$WORK/dev.urls")
      EDGE=${LL%%/ll/*}; EDGE2=
      ;;
    cluster)
      : >"$WORK/cluster.env"
      LOCAL_CLUSTER_BIN="$BIN" deploy/local-cluster.sh >"$WORK/cluster.env" &
      TARGET_PIDS=($!); PIDS+=($!)
      until grep -q READY=1 "$WORK/cluster.env"; do
        kill -0 "${TARGET_PIDS[0]}" 2>/dev/null || { echo "local cluster did not start" >&2; exit 1; }
        sleep 0.2
      done
      # shellcheck disable=SC1090
      source <(grep = "$WORK/cluster.env")
      local stream key playback
      stream=$(curl -sf -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        -d '{"name":"ll-bench"}' "$ADMIN_URL/v1/streams")
      key=$(python3 -c "import json,sys; print(json.load(sys.stdin)['stream_key'])" <<<"$stream")
      playback=$(python3 -c "import json,sys; print(json.load(sys.stdin)['playback_id'])" <<<"$stream")
      PUBLISH="$ORIGIN_RTMP_1/$key"
      EDGE=$EDGE_URL_1; EDGE2=$EDGE_URL_2
      LL="$EDGE/ll/$playback/index.m3u8"; TS="$EDGE/hls/$playback/index.m3u8"; FLV="$EDGE/live/$playback.flv"
      SERVER_PIDS=("$EDGE_PID_1")
      ;;
    *) echo "unknown target: $1 (dev or cluster)" >&2; exit 2 ;;
  esac
}

stop_target() {
  local p
  for p in "${TARGET_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${TARGET_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  TARGET_PIDS=()
}

media_playlist() {
  python3 - "$1" <<'PY'
import sys, urllib.parse, urllib.request
url = sys.argv[1]
lines = urllib.request.urlopen(url, timeout=5).read().decode().splitlines()
for i, line in enumerate(lines):
    if line.startswith("#EXT-X-STREAM-INF") and i + 1 < len(lines):
        url = urllib.parse.urljoin(url, lines[i + 1])
        break
print(url)
PY
}

wait_ll() {
  local media
  for _ in $(seq 300); do
    media=$(media_playlist "$1" 2>/dev/null) && curl -sf "$media" | grep -q '^#EXT-X-PART:' && return 0
    sleep 0.1
  done
  echo "no LL-HLS part at $1 within 30 s" >&2; exit 1
}
