#!/usr/bin/env python3
"""Regenerates the seed corpus of the RTMP fuzz targets (services/fuzz/corpus/{rtmp_handshake,
rtmp_chunks,rtmp_session,amf0,proxy_header}) from real clients: `ferrocast dev` runs on
loopback, and ffmpeg, GStreamer's librtmp `rtmpsink` and GStreamer's own `rtmp2sink` publish a
short clip to it through a recording TCP relay. What each client sent is cut into seeds: its
handshake, the first 16 KiB of its chunk stream, and the AMF0 commands in it. PROXY protocol
seeds, and a player's session, are written by hand after the specification.

Usage: scripts/rtmp-seeds.py [path/to/ferrocast]   (default target/debug/ferrocast; needs
ffmpeg, gst-launch-1.0; see scripts/install-test-deps.sh)
"""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "services", "fuzz", "corpus")
HANDSHAKE = 1 + 1536 + 1536
SEED_BYTES = 16 * 1024


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def relay(listen_port, upstream_port, record):
    """Accepts one client, pipes it to upstream both ways, and appends what it sent to record."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(1)
    server.settimeout(30)

    def run():
        client, _ = server.accept()
        upstream = socket.create_connection(("127.0.0.1", upstream_port))

        def pipe(source, sink, keep):
            while True:
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                if keep:
                    record.extend(data)
                try:
                    sink.sendall(data)
                except OSError:
                    break
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        back = threading.Thread(target=pipe, args=(upstream, client, False), daemon=True)
        back.start()
        pipe(client, upstream, True)
        back.join(5)
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def capture(command, upstream_port, work):
    """Runs `command` (with {url} for the relay's address) and returns what it sent."""
    port = free_port()
    record = bytearray()
    thread = relay(port, upstream_port, record)
    url = f"rtmp://127.0.0.1:{port}/live/"
    subprocess.run([part.replace("{url}", url) for part in command], cwd=work,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
    thread.join(10)
    return bytes(record)


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


def amf_commands(stream):
    """AMF0 command payloads found in a chunk stream: from each command name to the next
    chunk boundary guess (good enough for seeds, which need not be valid)."""
    found = []
    for match in re.finditer(rb"\x02\x00[\x05-\x10](connect|createStream|releaseStream|FCPublish|publish|@setDataFrame)", stream):
        found.append(stream[match.start():match.start() + 400])
    return found


def player_seed():
    """What a player sends after `connect` and `createStream` (which the rtmp_session target
    sends itself), written by hand after the specification: play on stream 1, then (to the
    PlaySession) a buffer length, a window acknowledgement size, a ping request and
    deleteStream."""
    def amf_string(text):
        return b"\x02" + len(text).to_bytes(2, "big") + text.encode()

    def amf_number(value):
        return b"\x00" + struct.pack(">d", value)

    def message(csid, type_id, stream_id, payload):
        # One Type 0 chunk each: every payload here is under the initial chunk size of 128.
        return (bytes([csid]) + bytes(3) + len(payload).to_bytes(3, "big") + bytes([type_id])
                + stream_id.to_bytes(4, "little") + payload)

    seed = message(8, 20, 1, amf_string("play") + amf_number(3) + b"\x05" + amf_string("key"))
    # The target hands its input to the session in 512-byte pieces and to the PlaySession
    # from the piece after the accepted play: pad the first piece with data messages the
    # screen drops (header 12 bytes, AMF0 string 3 + n bytes, n under the chunk size).
    while len(seed) < 512:
        room = 512 - len(seed)
        n = room - 15 if room <= 115 else min(100, room - 15 - 16)
        seed += message(4, 18, 1, amf_string("x" * n))
    assert len(seed) == 512
    seed += message(2, 4, 0, (3).to_bytes(2, "big") + (1).to_bytes(4, "big") + (3000).to_bytes(4, "big"))
    seed += message(2, 5, 0, (2_500_000).to_bytes(4, "big"))
    seed += message(2, 4, 0, (6).to_bytes(2, "big") + (1234).to_bytes(4, "big"))
    seed += message(3, 20, 0, amf_string("deleteStream") + amf_number(4) + b"\x05" + amf_number(1))
    write("rtmp_session", "player", seed)


def proxy_seeds():
    v2_signature = b"\r\n\r\n\x00\r\nQUIT\n"
    ipv4 = bytes([127, 0, 0, 1, 10, 0, 0, 1]) + (40000).to_bytes(2, "big") + (1935).to_bytes(2, "big")
    ipv6 = bytes(15) + b"\x01" + bytes(15) + b"\x02" + (40000).to_bytes(2, "big") + (1935).to_bytes(2, "big")
    tlv = b"\x05" + (4).to_bytes(2, "big") + b"vpce"
    seeds = {
        "v1_tcp4": b"\x00PROXY TCP4 203.0.113.7 10.0.0.1 40000 1935\r\n\x03",
        "v1_tcp6": b"\x02PROXY TCP6 2001:db8::7 2001:db8::1 40000 1935\r\n",
        "v1_unknown": b"\x02PROXY UNKNOWN\r\n",
        "v2_tcp4": b"\x01" + v2_signature + b"\x21\x11" + len(ipv4).to_bytes(2, "big") + ipv4 + b"\x03",
        "v2_tcp6_tlv": b"\x02" + v2_signature + b"\x21\x21" + (len(ipv6) + len(tlv)).to_bytes(2, "big") + ipv6 + tlv,
        "v2_local": b"\x01" + v2_signature + b"\x20\x00\x00\x00",
    }
    for name, data in seeds.items():
        write("proxy_header", name, data)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "ferrocast")
    work = tempfile.mkdtemp()
    rtmp, http, ops = free_port(), free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FERROCAST_")}
    env["FERROCAST_OPS_LISTEN"] = f"127.0.0.1:{ops}"
    dev = subprocess.Popen([binary, "dev", "--rtmp-listen", f"127.0.0.1:{rtmp}",
                            "--http-listen", f"127.0.0.1:{http}", "--data-dir", os.path.join(work, "data")],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        key = None
        for line in dev.stdout:
            found = re.search(r"OBS stream key: (\S+)", line)
            if found:
                key = found.group(1)
                break
        if key is None:
            sys.exit("ferrocast dev printed no stream key")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
                        "-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "2", "-c:v", "libx264", "-g", "5",
                        "-c:a", "aac", "-f", "flv", "clip.flv"], cwd=work, check=True)
        clients = {
            "ffmpeg": ["ffmpeg", "-loglevel", "error", "-re", "-i", "clip.flv", "-c", "copy", "-f", "flv", "{url}" + key],
            "librtmp": ["gst-launch-1.0", "-q", "filesrc", "location=clip.flv", "!", "rtmpsink",
                        "location={url}" + key + " live=1"],
            "rtmp2sink": ["gst-launch-1.0", "-q", "filesrc", "location=clip.flv", "!", "flvdemux", "name=d",
                          "d.video", "!", "queue", "!", "h264parse", "!", "flvmux", "name=m", "streamable=true",
                          "d.audio", "!", "queue", "!", "aacparse", "!", "m.", "m.", "!", "rtmp2sink",
                          "location={url}" + key],
        }
        for name, command in clients.items():
            sent = capture(command, rtmp, work)
            if len(sent) <= HANDSHAKE:
                sys.exit(f"{name} sent only {len(sent)} bytes")
            write("rtmp_handshake", name, sent[:HANDSHAKE])
            stream = sent[HANDSHAKE:HANDSHAKE + SEED_BYTES]
            write("rtmp_chunks", name, b"\x00" + stream)
            write("rtmp_session", name, stream)
            for index, command_bytes in enumerate(amf_commands(stream)):
                write("amf0", f"{name}_{index}", command_bytes)
            time.sleep(1)  # dev ends the publish before the next client takes the key
        proxy_seeds()
        player_seed()
    finally:
        dev.terminate()
        dev.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
