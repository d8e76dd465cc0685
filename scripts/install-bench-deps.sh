#!/usr/bin/env bash
# Installs what loadtest/benchmark.sh needs on a fresh Debian 12 machine: the peer servers
# (nginx with Debian's nginx-rtmp module; node-media-server 4.4.x pinned by
# loadtest/bench/package-lock.json), ffmpeg for the clips, matplotlib for the plot, jq, and wrk (the
# HTTP load of loadtest/ll-edge-vs-nginx.sh).
# Idempotent and quick when everything is there:
#   - apt packages are checked with dpkg; apt-get update/install runs only for missing ones;
#   - `npm ci` in loadtest/bench runs only when node_modules is missing or older than
#     package-lock.json.
# Nothing is started or enabled: the benchmark runs every server itself, on loopback, and
# stops it by PID. Ends with one "component: version" line per component.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$ROOT/loadtest/bench"
APT_PACKAGES=(nginx libnginx-mod-rtmp ffmpeg python3 python3-matplotlib jq wrk nodejs npm)

log() { printf '[install-bench-deps] %s\n' "$*" >&2; }
die() { printf '[install-bench-deps] error: %s\n' "$*" >&2; exit 1; }

# ---- apt -------------------------------------------------------------------
source "$ROOT/scripts/apt.sh"
packages=()
for p in "${APT_PACKAGES[@]}"; do
  case "$p" in
    # A node from elsewhere (nodesource, nvm) is as good as Debian's.
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  packages+=("$p")
done
# Debian's nginx package may try to start a system nginx on :80; the benchmark never uses it
# (it runs its own nginx with its own config on loopback ports).
apt_install "${packages[@]}"

RTMP_MODULE=$(find /usr/lib/nginx/modules -name 'ngx_rtmp_module.so' 2>/dev/null | head -n1)
[ -n "$RTMP_MODULE" ] || die "ngx_rtmp_module.so not found under /usr/lib/nginx/modules"
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null \
  || die "/usr/bin/python3 cannot import matplotlib (python3-matplotlib)"

# ---- npm: node-media-server ------------------------------------------------
command -v node >/dev/null 2>&1 || die "node not found (node-media-server 4.4 needs Node >= 20)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "Node $(node --version) is too old (node-media-server 4.4 needs >= 20)"

stamp="$BENCH_DIR/node_modules/.package-lock.json" # written by npm on every install
if [ ! -f "$stamp" ] || [ "$BENCH_DIR/package-lock.json" -nt "$stamp" ]; then
  log "npm: npm ci in loadtest/bench"
  (cd "$BENCH_DIR" && npm ci --no-audit --no-fund --loglevel=error)
else
  log "npm: loadtest/bench/node_modules up to date"
fi

# ---- versions --------------------------------------------------------------
echo "nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //')"
echo "nginx-rtmp: $(dpkg-query -W -f='${Version}' libnginx-mod-rtmp) ($RTMP_MODULE)"
echo "node-media-server: $(node -p "require('$BENCH_DIR/node_modules/node-media-server/package.json').version")"
echo "node: $(node --version)"
echo "ffmpeg: $(ffmpeg -hide_banner -version 2>/dev/null | head -n1)"
echo "matplotlib: $(/usr/bin/python3 -c 'import matplotlib; print(matplotlib.__version__)')"
echo "wrk: $(wrk --version 2>&1 | head -n1)"
echo "jq: $(jq --version)"
