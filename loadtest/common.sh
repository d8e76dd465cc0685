# Shared by the loadtest scripts (source it): a work directory, PIDs stopped on exit, the
# release binary, and the 2.5 Mb/s 720p30 test clip every measurement publishes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cargo build --release -q -p ferrocast
BIN=target/release/ferrocast
CLIP=$WORK/clip.flv
# The synthetic source of shared/TESTING.md with B-frames, capped at 2.5 Mb/s, 30 s long.
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=1000:sample_rate=48000 \
  -c:v libx264 -preset veryfast -tune zerolatency -bf 2 -pix_fmt yuv420p -g 60 -keyint_min 60 -sc_threshold 0 \
  -b:v 2500k -maxrate 2500k -bufsize 5000k -c:a aac -b:a 128k -ar 48000 -ac 2 -t 30 -f flv "$CLIP"
now_ms() { date +%s%3N; }
