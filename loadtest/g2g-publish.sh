#!/usr/bin/env bash
# Publishes a 720p30 test pattern (2 s GOP, 48 kHz tone, like a typical OBS set-up) whose top
# 32 rows carry the publisher's wall clock as a barcode, for the glass-to-glass latency tool
# (`node scripts/browser/play.mjs g2g URL SECONDS`, see scripts/browser/README.md).
#
#   loadtest/g2g-publish.sh rtmp://127.0.0.1:1935/live/<key>
#
# The band: 40 blocks of 32x32 px, left to right, white = 1. Blocks 0-35 hold the wall clock
# in ms modulo 2^36 (most significant bit first); blocks 36-39 hold that number modulo 13, a
# check the reader uses to drop a misread frame.
#
# The stamp is the wall clock when the frame leaves the source: a branch of the filter graph
# sets its timestamps to RTCTIME (ms), paints them, and gets its frame numbers back before it
# is laid over the picture, so the encoded stream keeps its regular 30 fps timestamps. With
# -re a frame leaves the source when it is due, as a camera's would.
#
# Environment (not FERROCAST_*: the server refuses unknown variables with that prefix):
#   G2G_OFFSET_MS  added to every stamp (default 0): a known shift, to validate the reader
#                  (an offset of -1000 must raise the measured latency by 1 s).
#   G2G_SECONDS    stop after this long (default: run until killed).
#   G2G_RAW=1      instead of publishing, write the band's raw frames (gray, 1280x32) to
#                  stdout: `node scripts/browser/g2g-check.mjs` decodes them against Date.now().
set -euo pipefail

if [ "${G2G_RAW:-0}" != 1 ] && [ $# -lt 1 ]; then
  echo "usage: $0 RTMP_URL   (or G2G_RAW=1 $0)" >&2
  exit 2
fi
offset_ms=${G2G_OFFSET_MS:-0}
[[ "$offset_ms" =~ ^-?[0-9]+$ ]] || { echo "G2G_OFFSET_MS must be an integer" >&2; exit 2; }
duration=()
if [ -n "${G2G_SECONDS:-}" ]; then
  duration=(-t "$G2G_SECONDS")
fi

# ld(0): the stamp; bit X of the band (X = 0..39) is bit (35 - X) of it, then the check.
stamp="st(0,mod(floor(T*1000+0.5)+(${offset_ms}),68719476736))"
bit="if(lt(X,36),mod(floor(ld(0)/pow(2,35-X)),2),mod(floor(mod(ld(0),13)/pow(2,39-X)),2))"
graph="[0:v]split=2[main][tap];\
[tap]crop=40:2:0:0,format=gray,settb=1/1000,setpts=RTCTIME/1000,\
geq=lum='${stamp};255*${bit}',settb=1/30,setpts=N,\
scale=1280:32:flags=neighbor,format=yuv420p[band];\
[main][band]overlay=0:0:eof_action=endall[v]"

if [ "${G2G_RAW:-0}" = 1 ]; then
  exec ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=1280x720:rate=30 \
    "${duration[@]}" -filter_complex "$graph;[v]crop=1280:32:0:0,format=gray[raw]" \
    -map '[raw]' -f rawvideo -pix_fmt gray pipe:1
fi

exec ffmpeg -hide_banner -loglevel error -re \
  -f lavfi -i testsrc2=size=1280x720:rate=30 \
  -f lavfi -i sine=frequency=1000:sample_rate=48000 \
  "${duration[@]}" -filter_complex "$graph" -map '[v]' -map 1:a \
  -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -g 60 -keyint_min 60 \
  -sc_threshold 0 -b:v 2500k -c:a aac -b:a 128k -ar 48000 -ac 2 -f flv "$1"
