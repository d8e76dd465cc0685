#!/usr/bin/env bash
# Regenerates the committed seed corpus of the fuzz targets (services/fuzz/corpus/<target>/)
# from real captures made here and now: ffmpeg and GStreamer (flvmux) write short FLV clips
# (H.264 + AAC with and without B-frames, audio-only, video-only, 44.1 kHz mono, legacy
# codecs), x265 and libaom write an HEVC and an AV1 clip that are wrapped in Enhanced RTMP tags
# (ffmpeg 5.1 cannot put either in FLV), and the splitter below cuts them into per-target seeds.
#
# Usage: scripts/fuzz-seeds.sh        (needs ffmpeg, gst-launch-1.0 and python3; see
#                                      scripts/install-test-deps.sh)
# Only the corpus folders of the targets listed in the splitter are replaced; seeds of other
# targets are left alone. Output is bit-exact for a given ffmpeg/x264/GStreamer build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORPUS="$ROOT/services/fuzz/corpus"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

log() { printf '[fuzz-seeds] %s\n' "$*" >&2; }
for tool in ffmpeg gst-launch-1.0 python3; do
  command -v "$tool" >/dev/null 2>&1 || { log "error: $tool not found"; exit 1; }
done

# One second at 10 fps, 160x120, a keyframe every 5 frames: small tags, two GOPs.
VIDEO=(-f lavfi -i "testsrc2=size=160x120:rate=10")
BITEXACT=(-threads 1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1)
X264=(-c:v libx264 -preset veryfast -g 5 -keyint_min 5 -sc_threshold 0 -pix_fmt yuv420p)

ff() { # ff NAME ARGS...: one ffmpeg capture into $WORK/NAME
  local name="$1"
  shift
  log "capture $name"
  ffmpeg -hide_banner -loglevel error -y "$@" -t 1 "${BITEXACT[@]}" "$WORK/$name"
}

ff ffmpeg-h264-aac48k-stereo.flv "${VIDEO[@]}" -f lavfi -i "sine=frequency=1000:sample_rate=48000" \
  "${X264[@]}" -tune zerolatency -c:a aac -b:a 64k -ar 48000 -ac 2 -f flv
ff ffmpeg-h264-bframes-aac44k-mono.flv "${VIDEO[@]}" -f lavfi -i "sine=frequency=440:sample_rate=44100" \
  "${X264[@]}" -profile:v main -bf 3 -c:a aac -b:a 32k -ar 44100 -ac 1 -f flv
ff ffmpeg-aac44k-mono-audio-only.flv -f lavfi -i "sine=frequency=440:sample_rate=44100" \
  -c:a aac -b:a 32k -ar 44100 -ac 1 -f flv
ff ffmpeg-aac-main-audio-only.flv -f lavfi -i "sine=frequency=440:sample_rate=22050" \
  -c:a aac -profile:a aac_main -b:a 32k -ar 22050 -ac 1 -f flv
ff ffmpeg-aac-ltp-audio-only.flv -f lavfi -i "sine=frequency=440:sample_rate=32000" \
  -c:a aac -profile:a aac_ltp -strict experimental -b:a 32k -ar 32000 -ac 2 -f flv
ff ffmpeg-h264-baseline-video-only.flv "${VIDEO[@]}" "${X264[@]}" -profile:v baseline -f flv
ff ffmpeg-flv1-mp3.flv "${VIDEO[@]}" -f lavfi -i "sine=frequency=440:sample_rate=44100" \
  -c:v flv1 -g 5 -c:a libmp3lame -b:a 32k -ar 44100 -ac 1 -f flv
ff ffmpeg-speex-audio-only.flv -f lavfi -i "sine=frequency=440:sample_rate=16000" \
  -c:a libspeex -ar 16000 -ac 1 -f flv
ff ffmpeg-nellymoser-audio-only.flv -f lavfi -i "sine=frequency=440:sample_rate=8000" \
  -c:a nellymoser -ar 8000 -ac 1 -f flv
ff x265-hevc.mp4 "${VIDEO[@]}" -c:v libx265 -x265-params "bframes=0:keyint=5:min-keyint=5:log-level=error" \
  -tag:v hvc1 -f mp4
ff aom-av1.mp4 "${VIDEO[@]}" -c:v libaom-av1 -usage realtime -cpu-used 8 -g 5 -keyint_min 5 -f mp4

log "capture gstreamer-openh264-voaacenc.flv"
if ! gst-launch-1.0 -q -e \
    videotestsrc num-buffers=10 pattern=ball \
    ! video/x-raw,width=160,height=128,framerate=10/1,format=I420 \
    ! openh264enc bitrate=200000 gop-size=5 ! h264parse ! queue \
    ! flvmux name=mux streamable=true ! filesink location="$WORK/gstreamer-openh264-voaacenc.flv" \
    audiotestsrc num-buffers=10 ! audio/x-raw,rate=44100,channels=1 \
    ! voaacenc ! aacparse ! queue ! mux. >"$WORK/gst.log" 2>&1; then
  cat "$WORK/gst.log" >&2
  exit 1
fi

python3 - "$WORK" "$CORPUS" <<'PY'
"""Cuts the captures in WORK into per-target seed files under CORPUS."""
import hashlib
import os
import shutil
import struct
import sys

work, corpus = sys.argv[1], sys.argv[2]
TARGETS = ["flv_reader", "flv_video", "flv_audio", "avc_config", "hevc_config", "av1_config",
           "avc_annexb",
           "aac_config", "hls_packager", "cmaf_packager", "relay_frame"]
# Stream seeds (flv_reader, hls_packager, cmaf_packager) stop before this many bytes.
STREAM_CAP = 12 * 1024
AUDIO, VIDEO, SCRIPT = 8, 9, 18


def read_flv(path):
    data = open(path, "rb").read()
    assert data[:3] == b"FLV", path
    header_len = struct.unpack(">I", data[5:9])[0]
    pos, tags = header_len + 4, []
    while pos + 11 <= len(data):
        tag_type = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | data[pos + 7] << 24
        body = data[pos + 11:pos + 11 + size]
        if tag_type == SCRIPT:
            body = fixed_creation_date(body)
        tags.append((tag_type, ts, body))
        pos += 11 + size + 4
    return data[:header_len + 4], tags


def fixed_creation_date(body):
    """flvmux writes the wall-clock time into onMetaData; a fixed one keeps seeds stable."""
    key = b"\x00\x0ccreationdate\x02"
    at = body.find(key)
    if at < 0:
        return body
    start = at + len(key) + 2
    length = struct.unpack(">H", body[start - 2:start])[0]
    fixed = (b"Thu Jan 1 00:00:00 1970" + b" " * length)[:length]
    return body[:start] + fixed + body[start + length:]


def tag_bytes(tag_type, ts, body, trailer=True):
    header = bytes([tag_type]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") \
        + bytes([ts >> 24 & 0xFF, 0, 0, 0])
    return header + body + (struct.pack(">I", 11 + len(body)) if trailer else b"")


def boxes(data, start, end):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, pos + 8, pos + size
        pos += size


def find(data, path, start=0, end=None):
    end = len(data) if end is None else end
    for kind, body_start, body_end in boxes(data, start, end):
        if kind == path[0]:
            return (body_start, body_end) if len(path) == 1 else find(data, path[1:], body_start, body_end)
    raise KeyError(path)


def mp4_as_enhanced_rtmp(mp4_path):
    """FLV header and tags carrying an x265 or libaom clip as Enhanced RTMP 'hvc1' or 'av01'
    packets (AV1 coded frames carry no composition time)."""
    data = open(mp4_path, "rb").read()
    stbl = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]
    stsd_start, stsd_end = find(data, stbl + [b"stsd"])
    # stsd: version/flags, entry count, then the sample entry (78 bytes before children).
    fourcc, entry_start, entry_end = next(boxes(data, stsd_start + 8, stsd_end))
    config = {b"hvc1": b"hvcC", b"av01": b"av1C"}[fourcc]
    config_start, config_end = find(data, [config], entry_start + 78, entry_end)
    stsz_start, _ = find(data, stbl + [b"stsz"])
    count = struct.unpack(">I", data[stsz_start + 8:stsz_start + 12])[0]
    sizes = struct.unpack(">%dI" % count, data[stsz_start + 12:stsz_start + 12 + 4 * count])
    stss_start, _ = find(data, stbl + [b"stss"])
    sync_count = struct.unpack(">I", data[stss_start + 4:stss_start + 8])[0]
    sync = set(struct.unpack(">%dI" % sync_count, data[stss_start + 8:stss_start + 8 + 4 * sync_count]))
    stco_start, _ = find(data, stbl + [b"stco"])
    offset = struct.unpack(">I", data[stco_start + 8:stco_start + 12])[0]
    assert offset + sum(sizes) <= len(data), "one track, so samples follow each other"
    # Byte 0: IsExHeader, FrameType (1 key, 2 inter), PacketType (0 start, 3 frames, 2 end).
    tags = [(VIDEO, 0, b"\x90" + fourcc + data[config_start:config_end])]
    for index, size in enumerate(sizes):
        frame_type = 1 if index + 1 in sync else 2
        sample = data[offset:offset + size]
        offset += size
        tags.append((VIDEO, index * 100, bytes([0x80 | frame_type << 4 | 3]) + fourcc + sample))
    tags.append((VIDEO, len(sizes) * 100, b"\x92" + fourcc))
    return bytes.fromhex("464c5601010000000900000000"), tags


def hevc_sps(record):
    """The first SPS (NAL type 33) of an HEVCDecoderConfigurationRecord."""
    pos = 23
    for _ in range(record[22]):
        nal_type, count = record[pos] & 0x3F, int.from_bytes(record[pos + 1:pos + 3], "big")
        pos += 3
        for _ in range(count):
            length = int.from_bytes(record[pos:pos + 2], "big")
            if nal_type == 33:
                return record[pos + 2:pos + 2 + length]
            pos += 2 + length
    raise KeyError("no sps")


def write(target, name, data, seen):
    digest = hashlib.sha1(data).hexdigest()
    if digest in seen[target]:
        return
    seen[target].add(digest)
    with open(os.path.join(corpus, target, name), "wb") as out:
        out.write(data)


def stream_seed(prefix, tags, trailer):
    out = bytearray(prefix)
    for tag in tags:
        piece = tag_bytes(*tag, trailer=trailer)
        if len(out) + len(piece) > STREAM_CAP and len(out) > len(prefix):
            break
        out += piece
    return bytes(out)


def relay_seed(kind, tag, keyframe, config):
    tag_type, ts, body = tag
    return struct.pack("<iIBBQ", kind, ts, keyframe, config, 0) + tag_bytes(tag_type, ts, body)


def is_config(tag):
    """An AVC or AAC sequence header, or an Enhanced RTMP sequence start."""
    tag_type, _, body = tag
    if tag_type == VIDEO and body[0] & 0x80:
        return body[0] & 0x0F == 0
    if tag_type == VIDEO:
        return body[0] & 0x0F == 7 and body[1] == 0
    return tag_type == AUDIO and body[0] >> 4 == 10 and body[1] == 0


def split(name, header, tags, seen):
    stem = name.rsplit(".", 1)[0]
    write("flv_reader", stem + ".flv", stream_seed(header, tags, trailer=True), seen)
    has_video = any(t[0] == VIDEO for t in tags)
    settings = (1 if has_video else 0) | 0 << 1 | 1 << 3  # 100 ms target, 16 KiB bound
    write("hls_packager", stem, stream_seed(bytes([settings]), tags, trailer=False), seen)
    # The same session for CMAF, with a 334 ms part target (settings bits 5-6).
    write("cmaf_packager", stem, stream_seed(bytes([settings | 2 << 5]), tags, trailer=False), seen)
    videos = [t for t in tags if t[0] == VIDEO]
    audios = [t for t in tags if t[0] == AUDIO]
    scripts = [t for t in tags if t[0] == SCRIPT]
    picked_video = videos[:4] + videos[-1:]
    for index, (_, _, body) in enumerate(picked_video):
        # Only AVC and Enhanced RTMP bodies are parsed past their first byte.
        parsed_further = body[0] & 0x80 or body[0] & 0x0F == 7
        write("flv_video", "%s-%d" % (stem, index), body if parsed_further else body[:64], seen)
    for index, (_, _, body) in enumerate(audios[:3]):
        write("flv_audio", "%s-%d" % (stem, index), body, seen)
    for _, _, body in videos:
        if body[0] & 0x80 and body[0] & 0x0F == 0 and body[1:5] == b"hvc1":
            write("hevc_config", stem, body[5:], seen)
            write("hevc_config", stem + "-sps", hevc_sps(body[5:]), seen)
        if body[0] & 0x80 and body[1:5] == b"av01" and len(seen["av1_config"]) < 4:
            # The record, and the first temporal units (their OBUs) after the FourCC.
            write("av1_config", "%s-%d" % (stem, len(seen["av1_config"])), body[5:], seen)
        is_avc = body[0] & 0x0F == 7 and body[0] & 0x80 == 0
        if is_avc and body[1] == 0:
            write("avc_config", stem, body[5:], seen)
        elif is_avc and body[1] == 1 and len(seen["avc_annexb"]) < 12:
            keyframe = body[0] >> 4 == 1
            flags = 0x02 | (0x04 if keyframe else 0)  # 4-byte NAL lengths
            write("avc_annexb", "%s-%d" % (stem, len(seen["avc_annexb"])), bytes([flags]) + body[5:], seen)
    for _, _, body in audios:
        if body[0] >> 4 == 10 and body[1] == 0:
            write("aac_config", stem, body[2:], seen)
    for tag in scripts[:1]:
        write("relay_frame", stem + "-script", relay_seed(3, tag, 0, 0), seen)
    for index, tag in enumerate(videos[:2]):
        config = is_config(tag)
        keyframe = tag[2][0] >> 4 & 0x07 == 1 and not config
        write("relay_frame", "%s-video-%d" % (stem, index), relay_seed(2, tag, keyframe, config), seen)
    for index, tag in enumerate(audios[:2]):
        write("relay_frame", "%s-audio-%d" % (stem, index), relay_seed(1, tag, 0, is_config(tag)), seen)


seen = {target: set() for target in TARGETS}
for target in TARGETS:
    shutil.rmtree(os.path.join(corpus, target), ignore_errors=True)
    os.makedirs(os.path.join(corpus, target))
for name in sorted(os.listdir(work)):
    if name.endswith(".flv"):
        header, tags = read_flv(os.path.join(work, name))
    elif name.endswith(".mp4"):
        header, tags = mp4_as_enhanced_rtmp(os.path.join(work, name))
        name = name.replace(".mp4", "-enhanced-rtmp.flv")
    else:
        continue
    split(name, header, tags, seen)
for target in TARGETS:
    files = os.listdir(os.path.join(corpus, target))
    size = sum(os.path.getsize(os.path.join(corpus, target, f)) for f in files)
    print("%s: %d seeds, %d bytes" % (target, len(files), size))
PY
