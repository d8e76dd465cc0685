#!/usr/bin/env bash
# ferrocast against nginx-rtmp and node-media-server: the same clip, the same viewer steps, the
# same load generator (ferrocast-loadtest, one thread) and the same measurement for each
# server, one server at a time on this machine, loopback only.
#
# For every server, bitrate (1 and 2.5 Mb/s, 720p30, 2 s GOP, B-frames) and play protocol the
# server is started afresh and measured:
#   idle      no publisher                       -> RSS of the process at rest
#   baseline  1 publisher, 0 viewers             -> ingest (+ HLS where it makes it) CPU, RSS
#   steps     1 publisher, N viewers, N rising   -> CPU cores, RSS, and the viewers' own view
#             (receiving, drops, stalls, gaps, errors, latency and TTFF)
# CPU is utime+stime of the server's process tree from /proc/<pid>/stat over the window, RSS
# the sum of VmRSS (sampled every second; peak reported). The load generator's own CPU, the
# publisher's, the kernel's softirq threads' (ksoftirqd) and the rest of the machine's
# (/proc/stat) are measured over the same window.
# Before each window the script waits (up to QUIET_MAX_S=120 s) until the machine, less this
# benchmark, uses at most QUIET_CORES=0.15 cores; a step during which other work used more
# than CONTENDED_CORES=0.3 cores is run once more. loadtest/bench/report.py turns the records
# (target/benchmark/records.jsonl, loadtest summaries in target/benchmark/raw/) into the
# derived numbers, the tables (text and markdown, also target/benchmark/table.md),
# target/benchmark/benchmark.json and the plot; run it again on its own to re-derive.
#
# What each server does with the stream:
#   ferrocast  `ferrocast dev`: RTMP ingest, HLS segments to its local store, HTTP-FLV and RTMP
#              play from its GOP cache.
#   nginx      nginx 1.22 + Debian's nginx-rtmp 1.2.2, one worker: RTMP ingest, `hls on`
#              (2 s fragments to disk), RTMP play (no GOP cache: `wait_key on`). No HTTP-FLV.
#   nms        node-media-server 4.4.x: RTMP ingest, HTTP-FLV and RTMP play from its GOP cache;
#              no HLS (4.x has none). Its RTMP play is reported n/a: it sends media on
#              message stream 0, which ferrocast-loadtest's RTMP player drops.
#   cluster    (only when named) deploy/local-cluster.sh: control, 2 origins, 2 edges,
#              redis-server and s3s-fs; publish and RTMP play on origin 1, HLS segments to S3
#              and the index to Redis, HTTP-FLV from edge 1 over the gRPC relay. Its CPU and
#              RSS are the whole cluster's. Needs scripts/install-test-deps.sh.
# A protocol whose two-viewer probe gets no video (e.g. a server without RTMP play) is
# reported n/a; a step where fewer than half the viewers receive ends that protocol's ramp.
#
# Usage: loadtest/benchmark.sh [--quick] [--servers ferrocast,nginx,nms,cluster,raw] [--steps 50,200]
#                              [--hold SECONDS] [--plot PATH] [--merge-window DURATION]
#                              [--generator-threads N] [--rounds N]
#   --quick   steps 50,200 held 10 s (a smoke run, ~15 min); default: 50,200,500,1000,2000
#             held 20 s (~35 min on a quiet machine)
#   --plot    where the PNG goes (default: docs/benchmarks/viewers.png for a full run with
#             all servers, target/benchmark/viewers.png otherwise)
#   --merge-window  ferrocast's origin.rtmp.play_merge_window (e.g. 0s); its default otherwise
#   --generator-threads  threads of the viewers' load generator (default 1); more where one
#             thread saturates before the server (nginx-rtmp writes each message on its own)
#   --rounds  measure every server this many times (default 1), one round of all the servers
#             after another, so that a drift of the machine falls on every server alike;
#             report.py takes each step's median over the rounds and pairs the rounds' ratios
#   raw       the ceiling (issue 15): ferrocast dev ingests, loadtest's `raw-fanout` pulls its
#             HTTP-FLV once and writes each read to every viewer from one thread, as FLV tags
#             to HTTP-FLV viewers and as RTMP messages to RTMP players; only raw-fanout's CPU
#             counts
# Needs scripts/install-bench-deps.sh. Every process it starts is stopped by PID.
COMMAND="loadtest/benchmark.sh${*:+ $*}"
QUICK=0
SERVERS=ferrocast,nginx,nms
STEPS=
HOLD=
PLOT=
MERGE_WINDOW=
GEN_THREADS=1
ROUNDS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --servers) SERVERS=$2; shift ;;
    --steps) STEPS=$2; shift ;;
    --hold) HOLD=$2; shift ;;
    --plot) PLOT=$2; shift ;;
    --merge-window) MERGE_WINDOW=$2; shift ;;
    --generator-threads) GEN_THREADS=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    -h|--help) sed -n '2,/^COMMAND=/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds wants a positive whole number, not $ROUNDS" >&2; exit 2; }
if [ "$QUICK" = 1 ]; then STEPS=${STEPS:-50,200}; HOLD=${HOLD:-10}; IDLE=5
else STEPS=${STEPS:-50,200,500,1000,2000}; HOLD=${HOLD:-20}; IDLE=10; fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/loadtest/bench
RTMP_MODULE=$(find /usr/lib/nginx/modules -name 'ngx_rtmp_module.so' 2>/dev/null | head -n1 || true)
missing=()
command -v nginx >/dev/null && [ -n "$RTMP_MODULE" ] || missing+=("nginx + libnginx-mod-rtmp")
[ -d "$BENCH/node_modules/node-media-server" ] || missing+=("node-media-server (npm ci in loadtest/bench)")
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || missing+=("python3-matplotlib")
command -v jq >/dev/null || missing+=("jq")
if [[ ",$SERVERS," == *,cluster,* ]]; then
  for tool in redis-server s3s-fs; do command -v "$tool" >/dev/null || missing+=("$tool (scripts/install-test-deps.sh)"); done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "missing: ${missing[*]}; run scripts/install-bench-deps.sh" >&2
  exit 2
fi

# The 2.5 Mb/s clip ($CLIP), the release ferrocast ($BIN), $WORK, $PIDS and the exit cleanup.
source "$ROOT/loadtest/common.sh"
cargo build --release -q -p ferrocast-loadtest
LOADTEST=target/release/ferrocast-loadtest
RAW_FANOUT=target/release/raw-fanout
# The same encode as common.sh's clip, at 1 Mb/s.
CLIP_1000=$WORK/clip-1000.flv
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=1000:sample_rate=48000 \
  -c:v libx264 -preset veryfast -tune zerolatency -bf 2 -pix_fmt yuv420p -g 60 -keyint_min 60 -sc_threshold 0 \
  -b:v 1000k -maxrate 1000k -bufsize 2000k -c:a aac -b:a 128k -ar 48000 -ac 2 -t 30 -f flv "$CLIP_1000"
CLIP_2500=$CLIP

OUT=$ROOT/target/benchmark
rm -rf "$OUT/raw" "$OUT/servers"
mkdir -p "$OUT/raw" "$OUT/servers"
RECORDS=$OUT/records.jsonl
: >"$RECORDS"
if [ -z "$PLOT" ]; then
  if [ "$QUICK" = 0 ] && [ "$SERVERS" = ferrocast,nginx,nms ]; then PLOT=$ROOT/docs/benchmarks/viewers.png
  else PLOT=$OUT/viewers.png; fi
fi

# Viewers need a socket each in the server and in the load generator.
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want"
max_step=$(tr ',' '\n' <<<"$STEPS" | sort -n | tail -n1)
if [ "$(ulimit -n)" -lt $((max_step * 2 + 256)) ]; then
  echo "open-file limit $(ulimit -n) is too low for $max_step viewers" >&2
  exit 2
fi

HZ=$(getconf CLK_TCK)
now_ns() { date +%s%N; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# The process and its descendants (nginx: master + worker).
tree_pids() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2; pids[++n] = $1 }
    END {
      keep[root] = 1; print root
      do { added = 0
        for (i = 1; i <= n; i++) { p = pids[i]
          if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p; added = 1 } }
      } while (added)
    }'
}
# utime + stime in clock ticks of the processes or threads named (fields 14 and 15 of their
# stat; the command name may hold spaces).
pids_ticks() {
  local total=0 p t
  for p in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
tree_ticks() { pids_ticks $(tree_pids "$1"); }
tree_rss_kb() {
  local total=0 p r
  for p in $(tree_pids "$1"); do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null) || r=0
    total=$((total + ${r:-0}))
  done
  echo "$total"
}

# Busy clock ticks of the whole machine (all cores): user nice system irq softirq steal.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# Clock ticks of the kernel's softirq threads: network receive work that a process's sends
# raised but left to them is in no process's CPU (a batched-send experiment moved 0.03 cores
# there), so every window reports it beside the server's.
softirqd_ticks() { pids_ticks $(pgrep '^ksoftirqd/'); }

# measure SECONDS [GENERATOR_PID]: the server's CPU and RSS, the generator's CPU and what the
# rest of the machine used over a window; sets M_JSON.
measure() {
  local window=$1 gen=${2:-} t0 t1 c0 c1 g0=0 g1=0 p0=0 p1=0 m0 m1 k0 k1 peak=0 sum=0 n=0 r i
  t0=$(now_ns); c0=$(tree_ticks "$SERVER_PID"); m0=$(machine_ticks); k0=$(softirqd_ticks)
  if [ -n "$gen" ]; then g0=$(tree_ticks "$gen"); fi
  if [ -n "${PUB_PID:-}" ]; then p0=$(tree_ticks "$PUB_PID"); fi
  for ((i = 1; i <= window; i++)); do
    sleep "$(awk -v t0="$t0" -v now="$(now_ns)" -v i="$i" 'BEGIN { d = (t0 + i * 1e9 - now) / 1e9; print (d > 0 ? d : 0) }')"
    r=$(tree_rss_kb "$SERVER_PID"); sum=$((sum + r)); n=$((n + 1))
    if [ "$r" -gt "$peak" ]; then peak=$r; fi
  done
  c1=$(tree_ticks "$SERVER_PID"); m1=$(machine_ticks); k1=$(softirqd_ticks); t1=$(now_ns)
  if [ -n "$gen" ]; then g1=$(tree_ticks "$gen"); fi
  if [ -n "${PUB_PID:-}" ]; then p1=$(tree_ticks "$PUB_PID"); fi
  M_JSON=$(jq -c -n --argjson c "$((c1 - c0))" --argjson g "$((g1 - g0))" --argjson hz "$HZ" \
    --argjson p "$((p1 - p0))" \
    --argjson m "$((m1 - m0))" --argjson k "$((k1 - k0))" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --argjson t0 "$t0" --argjson t1 "$t1" --argjson peak "$peak" --argjson sum "$sum" --argjson n "$n" \
    '{wall_s: (($t1 - $t0) / 1e9), cpu_s: ($c / $hz), cores: (($c / $hz) / (($t1 - $t0) / 1e9)),
      rss_peak_kb: $peak, rss_mean_kb: (if $n > 0 then ($sum / $n | floor) else null end),
      generator_cpu_s: ($g / $hz), generator_cores: (($g / $hz) / (($t1 - $t0) / 1e9)),
      publisher_cores: (($p / $hz) / (($t1 - $t0) / 1e9)),
      machine_cores: (($m / $hz) / (($t1 - $t0) / 1e9)),
      softirqd_cores: (($k / $hz) / (($t1 - $t0) / 1e9)),
      other_cores: ((($m - $c - $g - $p) / $hz) / (($t1 - $t0) / 1e9)), loadavg: $load}')
}

# Other work on the machine skews every number: before each measurement wait (up to
# QUIET_MAX_S) until the machine, less this benchmark's processes, is nearly idle.
QUIET_MAX_S=${QUIET_MAX_S:-120}
QUIET_CORES=${QUIET_CORES:-0.15}
CONTENDED_CORES=${CONTENDED_CORES:-0.3}
wait_quiet() { # wait_quiet PID... (ours: their CPU does not count)
  local waited=0 m0 m1 o0 o1 p busy
  while :; do
    m0=$(machine_ticks); o0=0; for p in "$@"; do o0=$((o0 + $(tree_ticks "$p"))); done
    sleep 2
    m1=$(machine_ticks); o1=0; for p in "$@"; do o1=$((o1 + $(tree_ticks "$p"))); done
    busy=$(awk -v d=$((m1 - m0 - (o1 - o0))) -v hz="$HZ" 'BEGIN { printf "%.2f", d / hz / 2 }')
    if awk -v b="$busy" -v q="$QUIET_CORES" 'BEGIN { exit !(b <= q) }'; then return 0; fi
    if [ "$waited" -ge "$QUIET_MAX_S" ]; then
      log "  the machine is still busy ($busy cores besides the benchmark); measuring anyway"
      return 0
    fi
    [ "$waited" = 0 ] && log "  waiting for a quiet machine ($busy cores busy besides the benchmark)"
    sleep 3; waited=$((waited + 5))
  done
}

record() { # record KIND KBPS PROTO N [extra json]
  jq -c -n --arg server "$SERVER" --arg kind "$1" --argjson kbps "$2" --arg proto "$3" \
    --argjson n "$4" --argjson m "${M_JSON:-null}" --argjson extra "${5:-null}" --argjson round "$ROUND" \
    '{server: $server, kind: $kind, kbps: $kbps, protocol: $proto, viewers: $n, round: $round, measured: $m}
     + ($extra // {})' >>"$RECORDS"
}

# ---- servers ---------------------------------------------------------------
# start_SERVER DIR: sets SERVER_PID, PUBLISH_URL, RTMP_PLAY_URL, FLV_URL ('' = not served),
# READY_URL (what shows the stream is up: a playlist with a segment, or FLV bytes).
wait_for() { # wait_for SECONDS COMMAND...
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.2
  done
}
start_ferrocast() {
  local dir=$1
  local merge=()
  [ -n "$MERGE_WINDOW" ] && merge=("FERROCAST_ORIGIN__RTMP__PLAY_MERGE_WINDOW=$MERGE_WINDOW")
  env "${merge[@]}" FERROCAST_OPS_LISTEN=127.0.0.1:0 "$ROOT/$BIN" dev --rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
    --data-dir "$dir/data" >"$dir/urls" 2>"$dir/log" &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_for 20 grep -q '^Metrics: ' "$dir/urls" || { log "ferrocast dev did not start: $(tail -n3 "$dir/log")"; return 1; }
  PUBLISH_URL=$(sed -n 's/^RTMP publish URL: //p' "$dir/urls")
  FLV_URL=$(sed -n 's/^HTTP-FLV: //p' "$dir/urls")
  READY_URL=$(sed -n 's/^HLS: //p' "$dir/urls")
  RTMP_PLAY_URL="$(sed -n 's/^OBS server: //p' "$dir/urls")/$(basename "$FLV_URL" .flv)"
}
start_raw() { # the ceiling: ferrocast dev ingests; raw-fanout fans its HTTP-FLV out (and as RTMP)
  local dir=$1
  start_ferrocast "$dir" || return 1
  UPSTREAM_PID=$SERVER_PID
  "$ROOT/$RAW_FANOUT" --upstream "$FLV_URL" >"$dir/raw-urls" 2>"$dir/raw-log" &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_for 10 grep -q '^HTTP-FLV: ' "$dir/raw-urls" || { log "raw-fanout did not start: $(tail -n3 "$dir/raw-log")"; return 1; }
  FLV_URL=$(sed -n 's/^HTTP-FLV: //p' "$dir/raw-urls")
  READY_URL=$FLV_URL
  RTMP_PLAY_URL=$(sed -n 's/^RTMP: //p' "$dir/raw-urls")
}
start_nginx() {
  local dir=$1 rtmp http
  rtmp=$(free_port); http=$(free_port)
  mkdir -p "$dir/logs" "$dir/hls"
  sed -e "s#@RTMP_MODULE@#$RTMP_MODULE#; s#@NOFILE@#$(ulimit -n)#; s#@CONNECTIONS@#$(( $(ulimit -n) - 64 ))#" \
      -e "s#@RTMP_PORT@#$rtmp#; s#@HTTP_PORT@#$http#; s#@WORK@#$dir#g" "$BENCH/nginx.conf.in" >"$dir/nginx.conf"
  nginx -e "$dir/logs/error.log" -c "$dir/nginx.conf" -p "$dir/" -g 'daemon off;' >"$dir/log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$rtmp" || { log "nginx did not start: $(tail -n3 "$dir/log" "$dir/logs/error.log")"; return 1; }
  PUBLISH_URL=rtmp://127.0.0.1:$rtmp/live/bench
  RTMP_PLAY_URL=$PUBLISH_URL
  FLV_URL=
  READY_URL=http://127.0.0.1:$http/hls/bench.m3u8
}
start_nms() {
  local dir=$1 rtmp http
  rtmp=$(free_port); http=$(free_port)
  node "$BENCH/nms.js" "$rtmp" "$http" "$dir" >"$dir/log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_for 15 grep -q '^ready$' "$dir/log" || { log "node-media-server did not start: $(tail -n3 "$dir/log")"; return 1; }
  PUBLISH_URL=rtmp://127.0.0.1:$rtmp/live/bench
  RTMP_PLAY_URL=$PUBLISH_URL
  FLV_URL=http://127.0.0.1:$http/live/bench.flv
  READY_URL=$FLV_URL
}
start_cluster() { # deploy/local-cluster.sh: redis-server, s3s-fs, control, 2 origins, 2 edges
  local dir=$1 stream key playback
  ORIGIN_DRAIN_PUBLISH_DEADLINE=1s ORIGIN_DRAIN_FLUSH_DEADLINE=3s LOCAL_CLUSTER_BIN="$ROOT/$BIN" \
    "$ROOT/deploy/local-cluster.sh" >"$dir/urls" 2>"$dir/log" &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_for 60 grep -q '^READY=1' "$dir/urls" || { log "the local cluster did not start: $(tail -n3 "$dir/log")"; return 1; }
  cluster_var() { sed -n "s/^$1=//p" "$dir/urls"; }
  stream=$(curl -sf -X POST "$(cluster_var ADMIN_URL)/v1/streams" -H "Authorization: Bearer $(cluster_var ADMIN_TOKEN)" \
    -H 'Content-Type: application/json' -d '{"name":"benchmark"}') || { log "creating the stream failed"; return 1; }
  key=$(jq -r .stream_key <<<"$stream"); playback=$(jq -r .playback_id <<<"$stream")
  # Publish and play RTMP on origin 1 (it owns what it ingests); FLV and HLS from edge 1,
  # which pulls the stream over the relay.
  PUBLISH_URL=$(cluster_var ORIGIN_RTMP_1)/$key
  RTMP_PLAY_URL=$(cluster_var ORIGIN_RTMP_1)/$playback
  FLV_URL=$(cluster_var EDGE_URL_1)/live/$playback.flv
  READY_URL=$(cluster_var EDGE_URL_1)/hls/$playback/index.m3u8
}
stream_ready() {
  local text media
  case "$READY_URL" in
    *.m3u8)
      text=$(curl -sf --max-time 2 "$READY_URL") || return 1
      # A multivariant playlist (ferrocast's index.m3u8) names the media playlist: follow it.
      media=$(grep -m1 '^[^#].*\.m3u8' <<<"$text" || true)
      if [ -n "$media" ]; then text=$(curl -sf --max-time 2 "${READY_URL%/*}/$media") || return 1; fi
      grep -q '\.ts' <<<"$text" ;;
    *) [ "$(curl -s --max-time 2 "$READY_URL" | head -c 200000 | wc -c)" -ge 100000 ] ;;
  esac
}
stop_pid() { # TERM, then (ferrocast drains) a second TERM after 5 s, KILL after 10 s
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1
    [ "$i" = 50 ] && kill "$pid" 2>/dev/null; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  wait "$pid" 2>/dev/null || true
}
stop_server() { # the server, and the upstream it fans out (raw)
  stop_pid "$SERVER_PID"
  if [ -n "${UPSTREAM_PID:-}" ]; then stop_pid "$UPSTREAM_PID"; UPSTREAM_PID=; fi
}
server_version() {
  case "$1" in
    ferrocast) echo "ferrocast $(git -C "$ROOT" describe --always --dirty 2>/dev/null)" ;;
    cluster) echo "ferrocast $(git -C "$ROOT" describe --always --dirty 2>/dev/null) local cluster, redis $(redis-server --version 2>/dev/null | sed -n "s/.*v=\([0-9.]*\).*/\1/p"), s3s-fs" ;;
    nginx) echo "nginx $(nginx -v 2>&1 | sed 's#.*/##') + nginx-rtmp $(dpkg-query -W -f='${Version}' libnginx-mod-rtmp 2>/dev/null)" ;;
    nms) echo "node-media-server $(node -p "require('$BENCH/node_modules/node-media-server/package.json').version") on node $(node --version)" ;;
    raw) echo "raw-fanout (one thread, one write per read per viewer, HTTP-FLV and RTMP) over ferrocast $(git -C "$ROOT" describe --always --dirty 2>/dev/null)" ;;
  esac
}
protocols_of() {
  case "$1" in
    ferrocast|cluster|nms) echo "rtmp flv" ;;
    nginx) echo "rtmp" ;;
    raw) echo "rtmp flv" ;;
  esac
}

# ---- one viewer run ------------------------------------------------------------
# viewers PROTO N RAMP_MS SECONDS_AFTER_RAMP JSON: starts the load generator (in the background,
# pid in GEN) with N viewers of one protocol.
viewers() {
  local proto=$1 n=$2 ramp_ms=$3 after=$4 json=$5 args
  if [ "$proto" = rtmp ]; then args=(--rtmp-play-url "$RTMP_PLAY_URL" --rtmp-players "$n")
  else args=(--flv-url "$FLV_URL" --flv-viewers "$n"); fi
  "$ROOT/$LOADTEST" --threads "$GEN_THREADS" -q "${args[@]}" --ramp "${ramp_ms}ms" \
    --duration "$((ramp_ms + after * 1000))ms" --json "$json" 2>>"$OUT/raw/loadtest-stderr.log" &
  GEN=$!; PIDS+=("$GEN")
}
sleep_until_ns() { sleep "$(awk -v t="$1" -v now="$(now_ns)" 'BEGIN { d = (t - now) / 1e9; print (d > 0 ? d : 0) }')"; }

# ---- one server, one bitrate, one protocol ------------------------------------------
run_combo() { # SERVER KBPS PROTO
  local kbps=$2 proto=$3 dir clip pub_json probe n ramp_ms settle=3 t0 json receiving skip=0
  SERVER=$1
  dir=$OUT/servers/$SERVER-$kbps-$proto-r$ROUND
  mkdir -p "$dir"
  clip=$CLIP_2500; [ "$kbps" = 1000 ] && clip=$CLIP_1000
  log "$SERVER, $kbps kb/s, $proto play (round $ROUND of $ROUNDS): starting the server"
  M_JSON=null; PUB_PID=
  if ! "start_$SERVER" "$dir"; then record error "$kbps" "$proto" 0 '{"error":"server did not start"}'; return; fi
  sleep 2
  wait_quiet "$SERVER_PID"
  measure "$IDLE"; record idle "$kbps" "$proto" 0
  log "  idle: $(jq -r '"\(.cores) cores, RSS \(.rss_peak_kb) KiB"' <<<"$M_JSON")"

  pub_json=$OUT/raw/$SERVER-$kbps-$proto-r$ROUND-publisher.json
  "$ROOT/$LOADTEST" --threads 1 -q --flv "$clip" --publish-url "$PUBLISH_URL" --duration 4h \
    --json "$pub_json" 2>>"$OUT/raw/loadtest-stderr.log" &
  local pub=$!; PIDS+=("$pub"); PUB_PID=$pub
  if ! wait_for 30 stream_ready; then
    log "  the stream did not come up ($READY_URL)"
    M_JSON=null
    record error "$kbps" "$proto" 0 '{"error":"stream not ready"}'
    kill -INT "$pub" 2>/dev/null; wait "$pub" 2>/dev/null || true; stop_server; return
  fi
  sleep "$settle"
  wait_quiet "$SERVER_PID" "$pub"
  measure "$HOLD"; record baseline "$kbps" "$proto" 0
  log "  1 publisher: $(jq -r '"\(.cores) cores, RSS \(.rss_peak_kb) KiB"' <<<"$M_JSON")"

  # Does the server play this protocol at all? Two viewers for 5 s.
  probe=$OUT/raw/$SERVER-$kbps-$proto-r$ROUND-probe.json
  viewers "$proto" 2 0 5 "$probe"; wait "$GEN" || true
  receiving=$(jq ".$proto.viewers_receiving // 0" "$probe" 2>/dev/null || echo 0)
  if [ "$receiving" = 0 ]; then
    log "  $proto play: no viewer received video: n/a ($(jq -c ".$proto.errors.first" "$probe" 2>/dev/null))"
    record unsupported "$kbps" "$proto" 0 "$(jq -c "{probe: .}" "$probe" 2>/dev/null || echo null)"
  else
    for n in ${STEPS//,/ }; do
      if [ "$skip" = 1 ]; then M_JSON=null; record step "$kbps" "$proto" "$n" '{"skipped":true}'; continue; fi
      ramp_ms=$((n * 5 < 1000 ? 1000 : (n * 5 > 10000 ? 10000 : n * 5)))
      json=$OUT/raw/$SERVER-$kbps-$proto-r$ROUND-$n.json
      for attempt in 1 2; do
        wait_quiet "$SERVER_PID" "$pub"
        t0=$(now_ns)
        viewers "$proto" "$n" "$ramp_ms" "$((settle + HOLD + 2))" "$json"
        sleep_until_ns "$((t0 + (ramp_ms + settle * 1000) * 1000000))"
        measure "$HOLD" "$GEN"
        wait "$GEN" || true
        # Something else took CPU during the window: once more, after it is quiet again.
        if [ "$attempt" = 1 ] && jq -e --argjson q "$CONTENDED_CORES" '.other_cores > $q' <<<"$M_JSON" >/dev/null; then
          log "  $n viewers: $(jq -r '.other_cores * 100 | round / 100' <<<"$M_JSON") cores used by other work during the window; again"
          sleep 3; continue
        fi
        break
      done
      if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        record step "$kbps" "$proto" "$n" '{"error":"server exited"}'; log "  $n viewers: the server exited"; break
      fi
      record step "$kbps" "$proto" "$n" "$(jq -c "{loadtest: .}" "$json" 2>/dev/null || echo '{"error":"no loadtest summary"}')"
      log "  $n viewers: $(jq -r '"\(.cores * 1000 | round / 1000) cores, RSS \(.rss_peak_kb) KiB, generator \(.generator_cores * 100 | round / 100) cores"' <<<"$M_JSON"); $(jq -r ".$proto | \"receiving \(.viewers_receiving), stalls \(.stalls), gaps \(.gaps), errors \(.errors.total), latency p50 \(.latency_ms.p50_ms // \"-\") ms\"" "$json" 2>/dev/null)"
      receiving=$(jq ".$proto.viewers_receiving // 0" "$json" 2>/dev/null || echo 0)
      # A collapse: larger steps would only take time.
      if [ $((receiving * 2)) -lt "$n" ]; then skip=1; fi
      sleep 3 # connections closed, the server settles
    done
  fi
  kill -INT "$pub" 2>/dev/null; wait "$pub" 2>/dev/null || true
  PUB_PID=
  M_JSON=null; record publisher "$kbps" "$proto" 1 "$(jq -c "{loadtest: .}" "$pub_json" 2>/dev/null || echo null)"
  stop_server
}

# ---- run ------------------------------------------------------------------------
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -n1)" \
  --arg nproc "$(nproc)" --arg kernel "$(uname -r)" --arg mem "$(free -g | awk '/^Mem:/ {print $2}')" \
  --argjson quick "$QUICK" --arg steps "$STEPS" --argjson hold "$HOLD" --argjson idle "$IDLE" \
  --arg servers "$SERVERS" --arg cmd "$COMMAND" \
  --arg vf "$(server_version ferrocast)" --arg vc "$(server_version cluster)" --arg vn "$(server_version nginx)" --arg vm "$(server_version nms)" \
  --arg vr "$(server_version raw)" --arg merge "${MERGE_WINDOW:-default}" --argjson gen_threads "$GEN_THREADS" \
  --argjson rounds "$ROUNDS" \
  --arg lt "$("$ROOT/$LOADTEST" --version)" --arg nofile "$(ulimit -n)" \
  '{date: $date, machine: {cpu: $cpu, nproc: ($nproc | tonumber), kernel: $kernel, mem_gib: ($mem | tonumber)},
    quick: ($quick == 1), steps: ($steps | split(",") | map(tonumber)), hold_s: $hold, idle_s: $idle,
    servers: ($servers | split(",")), command: $cmd, nofile: ($nofile | tonumber), loadtest: $lt,
    versions: {ferrocast: $vf, cluster: $vc, nginx: $vn, nms: $vm, raw: $vr}, merge_window: $merge, generator_threads: $gen_threads, rounds: $rounds,
    clips: {"1000": "720p30 x264 veryfast zerolatency, 2 s GOP, 2 B-frames, 1 Mb/s + AAC 128 kb/s",
            "2500": "720p30 x264 veryfast zerolatency, 2 s GOP, 2 B-frames, 2.5 Mb/s + AAC 128 kb/s"}}' \
  >"$OUT/meta.json"
log "steps ${STEPS} viewers, ${HOLD} s each; servers ${SERVERS}; open files $(ulimit -n); work in $OUT"
for SERVER in ${SERVERS//,/ }; do
  case "$SERVER" in ferrocast|cluster|nginx|nms|raw) ;; *) echo "unknown server $SERVER" >&2; exit 2 ;; esac
done
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
  for SERVER in ${SERVERS//,/ }; do
    for kbps in 1000 2500; do
      for proto in $(protocols_of "$SERVER"); do
        run_combo "$SERVER" "$kbps" "$proto"
      done
    done
  done
done
/usr/bin/python3 "$BENCH/report.py" --out "$OUT" --plot "$PLOT"
