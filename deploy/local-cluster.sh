#!/usr/bin/env bash
# Starts a whole ferrocast cluster on loopback: redis-server, an S3-compatible server
# (s3s-fs), control, two origins and two edges. Prints KEY=value lines, then runs until
# SIGTERM/SIGINT and stops everything it started, by PID.
#
#   deploy/local-cluster.sh            # uses target/debug/ferrocast (builds it if missing)
#   LOCAL_CLUSTER_BIN=path deploy/local-cluster.sh
#   ORIGIN_DRAIN_PUBLISH_DEADLINE=3s ORIGIN_DRAIN_FLUSH_DEADLINE=5s deploy/local-cluster.sh
#   ORIGIN_MAX_CONNECTIONS_PER_IP=16 deploy/local-cluster.sh   # default 0 (off): every local
#                                      # client, load tests included, comes from 127.0.0.1
#   RECONNECT_WINDOW=2s deploy/local-cluster.sh   # origins' (and control's) reconnect window
#   WEBHOOK_TARGETS='[{url="http://127.0.0.1:9000/hook",secret="..."}]' WEBHOOK_RETRY_MAX=2s \
#     deploy/local-cluster.sh          # control.webhooks.targets and .retry_max
#   CONTROL_REPLICAS=2 deploy/local-cluster.sh   # a second control on the same Redis (prints
#                                      # ADMIN_URL_2, CONTROL_OPS_2, CONTROL_PID_2); nodes call the first
#   RECORDINGS_MIN_RETENTION=1s RECORDINGS_REAP_INTERVAL=500ms deploy/local-cluster.sh
#                                      # control's recordings.* (default: theirs): tests that
#                                      # watch a recording expire
#   LOCAL_CLUSTER_SENTINEL=1 deploy/local-cluster.sh   # Redis as primary + 2 replicas watched by
#                                      # three redis-sentinel; every role finds the primary
#                                      # through them (prints REDIS_REPLICA_PID, SENTINEL_PORT_1..3)
#
# Fault injection: REDIS_PID, S3_PID and CONTROL_PID are printed so a test can SIGSTOP/SIGCONT
# or SIGKILL them. CONTROL_RESTART names a script that starts control again with the same
# settings (after a SIGKILL) and prints its new PID; the cluster stops that one too on exit.
#
# Every process has its ops port (/metrics, /healthz, /readyz) printed as *_OPS, and its PID
# as *_PID, so a test can drain one with SIGTERM. Every node gets the same random cluster
# secret (FERROCAST_CLUSTER_SECRET, printed as CLUSTER_SECRET so another node can join):
# control's gRPC port and the origins' relays answer only calls carrying a node credential
# derived from it.
#
# Needs redis-server and s3s-fs (scripts/install-test-deps.sh installs both).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${LOCAL_CLUSTER_BIN:-$ROOT/target/debug/ferrocast}"
[ -x "$BIN" ] || (cd "$ROOT" && cargo build -q -p ferrocast)
tools=(redis-server s3s-fs)
[ "${LOCAL_CLUSTER_SENTINEL:-0}" = 1 ] && tools+=(redis-sentinel redis-cli)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run scripts/install-test-deps.sh" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ferrocast-cluster.XXXXXX")"
PIDS=()
stop() {
  trap - TERM INT EXIT
  # Processes started later by $CONTROL_RESTART, then ours; SIGCONT first in case a test left
  # one stopped (a stopped process does not act on SIGTERM).
  if [ -f "$WORK/restarted-pids" ]; then
    while read -r pid; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done <"$WORK/restarted-pids"
  fi
  for pid in "${PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap stop EXIT
trap 'exit 0' TERM INT

# Ports below the kernel's ephemeral range (32768+), so no outgoing connection takes one
# between this check and the server's bind. A cursor file hands each call the next port (calls
# run in subshells), from a random start that keeps concurrent clusters apart.
echo $((20000 + RANDOM % 10000)) >"$WORK/port-cursor"
free_port() {
  local port
  port=$(cat "$WORK/port-cursor")
  while ! python3 -c 'import socket,sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; do
    port=$((port + 1))
  done
  echo $((port + 1)) >"$WORK/port-cursor"
  echo "$port"
}
wait_port() { # host port what
  for _ in $(seq 200); do (echo >"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.05; done
  echo "$3 did not start; its log:" >&2; tail -n 20 "$WORK/$3.log" >&2 || true; exit 1
}
start() { # name command... ; logs to $WORK/name.log
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

REDIS_PORT=$(free_port)
# No diskless-sync delay: the primary would otherwise wait 5 s for more replicas to join
# before it sends the first copy.
start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --repl-diskless-sync-delay 0
REDIS_PID=${PIDS[-1]}
wait_port 127.0.0.1 "$REDIS_PORT" redis

# Sentinel mode: a replica of the primary and three sentinels (quorum 2) that fail over one
# second after the primary stops answering. Sentinels rewrite their config file, so each gets
# its own under $WORK.
redis_env=(FERROCAST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT")
sentinel_out=""
if [ "${LOCAL_CLUSTER_SENTINEL:-0}" = 1 ]; then
  # Two replicas: with min_replicas=1, writes still get a confirmation after one server is
  # lost and the other replica follows the promoted one.
  REPLICA_PORT=$(free_port)
  start redis-replica redis-server --port "$REPLICA_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    --dbfilename replica-1.rdb --replicaof 127.0.0.1 "$REDIS_PORT"
  REDIS_REPLICA_PID=${PIDS[-1]}
  wait_port 127.0.0.1 "$REPLICA_PORT" redis-replica
  REPLICA_PORT_2=$(free_port)
  start redis-replica-2 redis-server --port "$REPLICA_PORT_2" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    --dbfilename replica-2.rdb --replicaof 127.0.0.1 "$REDIS_PORT"
  wait_port 127.0.0.1 "$REPLICA_PORT_2" redis-replica-2
  # Until a replica has its first copy, WAIT counts it out and every durable write (a lease
  # grant, an index append) is refused: READY only once both replicas are in sync.
  wait_synced() { # port what
    for _ in $(seq 200); do
      redis-cli -p "$1" info replication 2>/dev/null | grep -q '^master_link_status:up' && return 0
      sleep 0.05
    done
    echo "$2 did not sync with the primary; its log:" >&2; tail -n 20 "$WORK/$2.log" >&2 || true; exit 1
  }
  wait_synced "$REPLICA_PORT" redis-replica
  wait_synced "$REPLICA_PORT_2" redis-replica-2
  SENTINEL_PORTS=()
  nodes=""
  for n in 1 2 3; do
    port=$(free_port)
    cat >"$WORK/sentinel-$n.conf" <<CONF
port $port
bind 127.0.0.1
dir $WORK
sentinel monitor ferrocast 127.0.0.1 $REDIS_PORT 2
sentinel down-after-milliseconds ferrocast 1000
sentinel failover-timeout ferrocast 10000
sentinel parallel-syncs ferrocast 1
CONF
    start "sentinel-$n" redis-sentinel "$WORK/sentinel-$n.conf"
    wait_port 127.0.0.1 "$port" "sentinel-$n"
    SENTINEL_PORTS+=("$port")
    nodes+="${nodes:+,}\"127.0.0.1:$port\""
    sentinel_out+="SENTINEL_PORT_$n=$port"$'\n'
  done
  redis_env+=(FERROCAST_REDIS_SENTINEL__MASTER_NAME=ferrocast
    FERROCAST_REDIS_SENTINEL__NODES="[$nodes]" FERROCAST_REDIS_SENTINEL__MIN_REPLICAS=1)
  sentinel_out+="REDIS_REPLICA_PID=$REDIS_REPLICA_PID"$'\n'"REDIS_REPLICA_URL=redis://127.0.0.1:$REPLICA_PORT"$'\n'
  sentinel_out+="SENTINEL_MASTER_NAME=ferrocast"
fi

S3_PORT=$(free_port); S3_ROOT="$WORK/s3"; BUCKET=ferrocast
S3_KEY=ferrocastlocal; S3_SECRET=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$S3_ROOT/$BUCKET"
start s3 s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key "$S3_KEY" --secret-key "$S3_SECRET" "$S3_ROOT"
S3_PID=${PIDS[-1]}
wait_port 127.0.0.1 "$S3_PORT" s3s-fs

ADMIN_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
CLUSTER_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
CONTROL_REST=$(free_port); CONTROL_GRPC=$(free_port)
ORIGIN_RTMP=($(free_port) $(free_port)); ORIGIN_RELAY=($(free_port) $(free_port))
EDGE_HTTP=($(free_port) $(free_port))
CONTROL_OPS=$(free_port); ORIGIN_OPS=($(free_port) $(free_port)); EDGE_OPS=($(free_port) $(free_port))
origin_drain_env=()
[ -n "${ORIGIN_DRAIN_PUBLISH_DEADLINE:-}" ] && origin_drain_env+=(FERROCAST_ORIGIN__DRAIN__PUBLISH_DEADLINE="$ORIGIN_DRAIN_PUBLISH_DEADLINE")
[ -n "${ORIGIN_DRAIN_FLUSH_DEADLINE:-}" ] && origin_drain_env+=(FERROCAST_ORIGIN__DRAIN__FLUSH_DEADLINE="$ORIGIN_DRAIN_FLUSH_DEADLINE")
[ -n "${RECONNECT_WINDOW:-}" ] && origin_drain_env+=(FERROCAST_ORIGIN__RECONNECT_WINDOW="$RECONNECT_WINDOW")

REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
CONTROL_URL="http://127.0.0.1:$CONTROL_GRPC"
# What origins and edges share: the cluster secret, the index, the bucket, control.
storage_env=(FERROCAST_CLUSTER_SECRET="$CLUSTER_SECRET"
  "${redis_env[@]}" FERROCAST_CONTROL_URL="$CONTROL_URL"
  FERROCAST_S3__ENDPOINT="$S3_ENDPOINT" FERROCAST_S3__BUCKET="$BUCKET" FERROCAST_S3__REGION=us-east-1
  FERROCAST_S3__ACCESS_KEY_ID="$S3_KEY" FERROCAST_S3__SECRET_ACCESS_KEY="$S3_SECRET"
  FERROCAST_S3__PATH_STYLE=true FERROCAST_S3__ALLOW_HTTP=true)

# Control's command line, kept in a script so that a test can start it again after a crash
# with the same settings; the script prints the new PID and records it for `stop`.
control_env=("${redis_env[@]}" FERROCAST_CLUSTER_SECRET="$CLUSTER_SECRET"
  FERROCAST_REST_LISTEN="127.0.0.1:$CONTROL_REST" FERROCAST_GRPC_LISTEN="127.0.0.1:$CONTROL_GRPC"
  FERROCAST_CONTROL__ADMIN_TOKEN="$ADMIN_TOKEN" FERROCAST_OPS_LISTEN="127.0.0.1:$CONTROL_OPS"
  FERROCAST_CONTROL__PUBLIC_RTMP_URL="rtmp://127.0.0.1:${ORIGIN_RTMP[0]}/live"
  FERROCAST_CONTROL__PUBLIC_PLAY_URL="http://127.0.0.1:${EDGE_HTTP[0]}"
  # The bucket, so control can delete recordings' objects.
  FERROCAST_S3__ENDPOINT="$S3_ENDPOINT" FERROCAST_S3__BUCKET="$BUCKET" FERROCAST_S3__REGION=us-east-1
  FERROCAST_S3__ACCESS_KEY_ID="$S3_KEY" FERROCAST_S3__SECRET_ACCESS_KEY="$S3_SECRET"
  FERROCAST_S3__PATH_STYLE=true FERROCAST_S3__ALLOW_HTTP=true)
[ -n "${RECONNECT_WINDOW:-}" ] && control_env+=(FERROCAST_CONTROL__RECONNECT_WINDOW="$RECONNECT_WINDOW")
[ -n "${WEBHOOK_TARGETS:-}" ] && control_env+=(FERROCAST_CONTROL__WEBHOOKS__TARGETS="$WEBHOOK_TARGETS")
[ -n "${WEBHOOK_RETRY_MAX:-}" ] && control_env+=(FERROCAST_CONTROL__WEBHOOKS__RETRY_MAX="$WEBHOOK_RETRY_MAX")
[ -n "${RECORDINGS_MIN_RETENTION:-}" ] && control_env+=(FERROCAST_CONTROL__RECORDINGS__MIN_RETENTION="$RECORDINGS_MIN_RETENTION")
[ -n "${RECORDINGS_REAP_INTERVAL:-}" ] && control_env+=(FERROCAST_CONTROL__RECORDINGS__REAP_INTERVAL="$RECORDINGS_REAP_INTERVAL")
CONTROL_RESTART="$WORK/restart-control.sh"
{
  echo '#!/usr/bin/env bash'
  echo 'set -euo pipefail'
  printf 'env'; printf ' %q' "${control_env[@]}" "$BIN" control
  printf ' >>%q 2>&1 &\n' "$WORK/control.log"
  printf 'echo $! >>%q\n' "$WORK/restarted-pids"
  printf 'for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/%s) 2>/dev/null && break; sleep 0.05; done\n' "$CONTROL_GRPC"
  echo 'echo "CONTROL_PID=$!"'
} >"$CONTROL_RESTART"
chmod 700 "$CONTROL_RESTART"
start control env "${control_env[@]}" "$BIN" control
CONTROL_PID=${PIDS[-1]}
wait_port 127.0.0.1 "$CONTROL_GRPC" control
control_2_out=""
if [ "${CONTROL_REPLICAS:-1}" = 2 ]; then
  # Same settings and Redis, its own ports (later env assignments win).
  CONTROL_REST_2=$(free_port); CONTROL_GRPC_2=$(free_port); CONTROL_OPS_2=$(free_port)
  start control-2 env "${control_env[@]}" FERROCAST_REST_LISTEN="127.0.0.1:$CONTROL_REST_2" \
    FERROCAST_GRPC_LISTEN="127.0.0.1:$CONTROL_GRPC_2" FERROCAST_OPS_LISTEN="127.0.0.1:$CONTROL_OPS_2" "$BIN" control
  control_2_out="CONTROL_PID_2=${PIDS[-1]}"$'\n'"ADMIN_URL_2=http://127.0.0.1:$CONTROL_REST_2"$'\n'"CONTROL_OPS_2=http://127.0.0.1:$CONTROL_OPS_2"
  wait_port 127.0.0.1 "$CONTROL_GRPC_2" control-2
fi

for i in 0 1; do
  n=$((i + 1))
  start "origin-$n" env "${storage_env[@]}" "${origin_drain_env[@]}" FERROCAST_NODE_ID="origin-$n" \
    FERROCAST_OPS_LISTEN="127.0.0.1:${ORIGIN_OPS[$i]}" \
    FERROCAST_RTMP_LISTEN="127.0.0.1:${ORIGIN_RTMP[$i]}" FERROCAST_RELAY_LISTEN="127.0.0.1:${ORIGIN_RELAY[$i]}" \
    FERROCAST_ORIGIN__RTMP__MAX_CONNECTIONS_PER_IP="${ORIGIN_MAX_CONNECTIONS_PER_IP:-0}" \
    FERROCAST_PUBLIC_RTMP_URL="rtmp://127.0.0.1:${ORIGIN_RTMP[$i]}/live" \
    FERROCAST_PUBLIC_RELAY_URL="http://127.0.0.1:${ORIGIN_RELAY[$i]}" "$BIN" origin
  ORIGIN_PID[$i]=${PIDS[-1]}
  start "edge-$n" env "${storage_env[@]}" FERROCAST_NODE_ID="edge-$n" FERROCAST_OPS_LISTEN="127.0.0.1:${EDGE_OPS[$i]}" \
    FERROCAST_HTTP_LISTEN="127.0.0.1:${EDGE_HTTP[$i]}" "$BIN" edge
  EDGE_PID[$i]=${PIDS[-1]}
done
for i in 0 1; do
  wait_port 127.0.0.1 "${ORIGIN_RTMP[$i]}" "origin-$((i + 1))"
  wait_port 127.0.0.1 "${EDGE_HTTP[$i]}" "edge-$((i + 1))"
  wait_port 127.0.0.1 "${ORIGIN_OPS[$i]}" "origin-$((i + 1))"
  wait_port 127.0.0.1 "${EDGE_OPS[$i]}" "edge-$((i + 1))"
done

cat <<OUT
ADMIN_URL=http://127.0.0.1:$CONTROL_REST
ADMIN_TOKEN=$ADMIN_TOKEN
CLUSTER_SECRET=$CLUSTER_SECRET
CONTROL_URL=$CONTROL_URL
ORIGIN_RTMP_1=rtmp://127.0.0.1:${ORIGIN_RTMP[0]}/live
ORIGIN_RTMP_2=rtmp://127.0.0.1:${ORIGIN_RTMP[1]}/live
ORIGIN_RELAY_1=http://127.0.0.1:${ORIGIN_RELAY[0]}
ORIGIN_RELAY_2=http://127.0.0.1:${ORIGIN_RELAY[1]}
EDGE_URL_1=http://127.0.0.1:${EDGE_HTTP[0]}
EDGE_URL_2=http://127.0.0.1:${EDGE_HTTP[1]}
CONTROL_OPS=http://127.0.0.1:$CONTROL_OPS
ORIGIN_OPS_1=http://127.0.0.1:${ORIGIN_OPS[0]}
ORIGIN_OPS_2=http://127.0.0.1:${ORIGIN_OPS[1]}
EDGE_OPS_1=http://127.0.0.1:${EDGE_OPS[0]}
EDGE_OPS_2=http://127.0.0.1:${EDGE_OPS[1]}
ORIGIN_PID_1=${ORIGIN_PID[0]}
ORIGIN_PID_2=${ORIGIN_PID[1]}
EDGE_PID_1=${EDGE_PID[0]}
EDGE_PID_2=${EDGE_PID[1]}
REDIS_URL=$REDIS_URL
REDIS_PID=$REDIS_PID
S3_PID=$S3_PID
CONTROL_PID=$CONTROL_PID
CONTROL_RESTART=$CONTROL_RESTART
${sentinel_out}
${control_2_out}
S3_ENDPOINT=$S3_ENDPOINT
S3_BUCKET=$BUCKET
S3_ACCESS_KEY_ID=$S3_KEY
S3_SECRET_ACCESS_KEY=$S3_SECRET
S3_ROOT=$S3_ROOT
LOG_DIR=$WORK
READY=1
OUT
# `wait` returns when a signal arrives; then the EXIT trap stops everything.
wait "${PIDS[@]}" || true
