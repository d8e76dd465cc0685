#!/usr/bin/env bash
# Install everything ferrocast's test suite needs on a fresh Debian 12 machine.
# Idempotent and fast when everything is already present:
#   - apt packages are checked with `dpkg -s`; `apt-get update/install` runs only
#     for missing ones;
#   - `npm ci` in scripts/browser runs only when node_modules is missing or
#     package-lock.json is newer than the last install. It installs the browser checks'
#     tools and the pinned players the watch page serves (a `dev` or an edge built from
#     this checkout finds them there: docs/adr/0018-watch-page-players.md).
# Ends with one "component: version" line per component.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BROWSER_DIR="$ROOT/scripts/browser"
# obs-studio + xvfb: the OBS end-to-end test (headless, software GL); redis-sentinel: the
# Sentinel failover test; iproute2: `ss -K` cuts live connections in fault tests.
APT_PACKAGES=(ffmpeg chromium redis-server redis-sentinel python3 gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad rtmpdump obs-studio xvfb xauth iproute2)

log() { printf '[install-test-deps] %s\n' "$*" >&2; }
die() { printf '[install-test-deps] error: %s\n' "$*" >&2; exit 1; }

# ---- apt -------------------------------------------------------------------
source "$ROOT/scripts/apt.sh"
apt_install "${APT_PACKAGES[@]}"

# ---- node / npm ------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node not found (Node >= 20.9 required)"
command -v npm >/dev/null 2>&1 || die "npm not found"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=9)?0:1)' \
  || die "Node $(node --version) is too old (>= 20.9 required)"

stamp="$BROWSER_DIR/node_modules/.package-lock.json" # written by npm on every install
if [ ! -d "$BROWSER_DIR/node_modules" ] || [ ! -f "$stamp" ] \
   || { [ -f "$BROWSER_DIR/package-lock.json" ] && [ "$BROWSER_DIR/package-lock.json" -nt "$stamp" ]; }; then
  if [ -f "$BROWSER_DIR/package-lock.json" ]; then
    log "npm: npm ci in scripts/browser"
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  else
    log "npm: npm install in scripts/browser (no lockfile)"
    (cd "$BROWSER_DIR" && npm install --no-audit --no-fund --loglevel=error)
  fi
else
  log "npm: scripts/browser/node_modules up to date"
fi

# ---- s3s-fs (S3-compatible server for the object store tests) ---------------
# 0.14.1: newer releases need a newer rustc than the workspace's.
if command -v s3s-fs >/dev/null 2>&1; then
  log "cargo: s3s-fs already installed"
else
  command -v cargo >/dev/null 2>&1 || die "cargo not found (needed to install s3s-fs)"
  log "cargo: installing s3s-fs 0.14.1 (takes a few minutes)"
  cargo install s3s-fs@0.14.1 --features binary --locked
  command -v s3s-fs >/dev/null 2>&1 || die "s3s-fs installed but not on PATH (add ~/.cargo/bin)"
fi

# ---- cargo-fuzz (scripts/fuzz.sh; runs on the image's nightly toolchain) ----
if cargo fuzz --version >/dev/null 2>&1; then
  log "cargo: cargo-fuzz already installed"
else
  command -v cargo >/dev/null 2>&1 || die "cargo not found (needed to install cargo-fuzz)"
  log "cargo: installing cargo-fuzz (about a minute)"
  cargo install cargo-fuzz --locked
  cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz installed but not on PATH (add ~/.cargo/bin)"
fi

# ---- versions --------------------------------------------------------------
npm_version() {
  node -p "require('$BROWSER_DIR/node_modules/$1/package.json').version" 2>/dev/null || echo missing
}
echo "ffmpeg: $(ffmpeg -hide_banner -version 2>/dev/null | head -n1)"
# (Debian's chromium wrapper can print a harmless shell warning on stderr)
echo "chromium: $(chromium --version 2>/dev/null)"
echo "redis-server: $(redis-server --version 2>/dev/null | head -n1)"
echo "redis-sentinel: $(redis-sentinel --version 2>/dev/null | head -n1)"
echo "obs-studio: $(dpkg-query -W -f='${Version}' obs-studio 2>/dev/null)"
echo "xvfb: $(dpkg-query -W -f='${Version}' xvfb 2>/dev/null)"
echo "ss: $(ss -V 2>/dev/null | head -n1)"
echo "s3s-fs: $(s3s-fs --version 2>/dev/null | head -n1)"
echo "cargo-fuzz: $(cargo fuzz --version 2>/dev/null | head -n1)"
echo "python3: $(python3 --version 2>&1)"
echo "gstreamer: $(gst-launch-1.0 --version 2>/dev/null | head -n1)"
echo "node: $(node --version)"
echo "npm: $(npm --version 2>/dev/null)"
echo "hls.js: $(npm_version hls.js)"
echo "mpegts.js: $(npm_version mpegts.js)"
echo "dashjs: $(npm_version dashjs)"
echo "shaka-player: $(npm_version shaka-player)"
echo "playwright-core: $(npm_version playwright-core)"
