#!/usr/bin/env bash
# An edge serving segments against nginx serving the same files from disk, in the same run:
# requests per CPU-second of the server. The local cluster (release build) carries one
# 2.5 Mb/s 720p30 stream; the newest complete segments of its MPEG-TS and CMAF (LL-HLS)
# renditions, with the CMAF init segment, are fetched once from edge 1 and written under
# nginx's root at the same paths. wrk (one thread, CONNECTIONS keep-alive connections) then
# requests those paths round-robin from each server in turn for WINDOW seconds, while the
# server's CPU (utime + stime of its processes, /proc) is read over the same window. The edge
# answers from its segment cache (warmed by the fetch), nginx (one worker, sendfile) from the
# page cache: both serve the bytes from memory.
#
#   loadtest/ll-edge-vs-nginx.sh [WINDOW] [CONNECTIONS]    # default 10 s, 32
# Needs scripts/install-test-deps.sh and scripts/install-bench-deps.sh (nginx, wrk).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source loadtest/ll-common.sh
WINDOW=${1:-10}
CONNECTIONS=${2:-32}
command -v wrk >/dev/null || { echo "wrk not found: run scripts/install-bench-deps.sh" >&2; exit 1; }
HZ=$(getconf CLK_TCK)

start_target cluster
ffmpeg -nostdin -v quiet -re -stream_loop -1 -i "$CLIP" -c copy -f flv "$PUBLISH" & PIDS+=($!)
wait_ll "$LL"
sleep 12 # several complete segments in both renditions

# The newest 3 complete segments of each rendition, and the CMAF init segment, as paths.
python3 - "$(media_playlist "$TS")" "$(media_playlist "$LL")" >"$WORK/paths" <<'PY'
import sys, urllib.parse, urllib.request
paths = []
for playlist in sys.argv[1:]:
    lines = urllib.request.urlopen(playlist).read().decode().splitlines()
    uris = [l for i, l in enumerate(lines) if l and not l.startswith("#") and lines[i - 1].startswith("#EXTINF")]
    maps = [l.split('URI="')[1].split('"')[0] for l in lines if l.startswith("#EXT-X-MAP")]
    for uri in maps[-1:] + uris[-3:]:
        paths.append(urllib.parse.urlsplit(urllib.parse.urljoin(playlist, uri)).path)
print("\n".join(paths))
PY
mkdir -p "$WORK/www"
while read -r path; do
  mkdir -p "$WORK/www$(dirname "$path")"
  curl -sf -o "$WORK/www$path" "$EDGE$path"
done <"$WORK/paths"
# nginx's worker runs as nobody: let it through the private work directory.
chmod a+x "$WORK"; chmod -R a+rX "$WORK/www"
echo "paths: $(wc -l <"$WORK/paths"), $(du -sb "$WORK/www" | cut -f1) bytes in all"

NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { video/mp2t ts; video/mp4 mp4 m4s; }
  client_body_temp_path $WORK/nginx-tmp;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" & NGINX=$!; PIDS+=("$NGINX")
until curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT$(head -1 "$WORK/paths")"; do sleep 0.1; done

cat >"$WORK/paths.lua" <<LUA
local paths, i = {}, 0
for line in io.lines("$WORK/paths") do paths[#paths + 1] = line end
request = function() i = i % #paths + 1; return wrk.format("GET", paths[i]) end
LUA

echo "wrk: 1 thread, $CONNECTIONS connections, ${WINDOW}s per server"
printf '%-8s %10s %8s %10s %14s\n' server requests non_2xx cores req_per_cpu_s
for server in edge nginx; do
  case "$server" in
    edge) base=$EDGE; pids=("${SERVER_PIDS[@]}") ;;
    nginx) base="http://127.0.0.1:$NGINX_PORT"; pids=("$NGINX" $(pgrep -P "$NGINX")) ;;
  esac
  c0=$(cpu_ticks "${pids[@]}")
  wrk -t1 -c"$CONNECTIONS" -d"${WINDOW}s" -s "$WORK/paths.lua" "$base" >"$WORK/wrk-$server.txt"
  c1=$(cpu_ticks "${pids[@]}")
  requests=$(awk '/requests in/ {print $1}' "$WORK/wrk-$server.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk-$server.txt"); non2xx=${non2xx:-0}
  cores=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v w="$WINDOW" 'BEGIN { printf "%.3f", d / hz / w }')
  rate=$(awk -v r="$requests" -v c="$cores" -v w="$WINDOW" 'BEGIN { printf "%.0f", r / (c * w) }')
  printf '%-8s %10s %8s %10s %14s\n' "$server" "$requests" "$non2xx" "$cores" "$rate"
  echo "$rate" >"$WORK/rate-$server"
done
awk -v e="$(cat "$WORK/rate-edge")" -v n="$(cat "$WORK/rate-nginx")" \
  'BEGIN { printf "edge / nginx, requests per CPU-second: %.2f\n", e / n }'
stop_target
