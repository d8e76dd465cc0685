#!/usr/bin/env python3
"""Turns loadtest/benchmark.sh's records into the derived numbers, the tables and the plot.

Reads OUT/meta.json and OUT/records.jsonl (one JSON object per measurement, with its round
when the run measured every server more than once: a step's numbers are then the median of its
rounds); writes OUT/benchmark.json (meta, every record, the derived numbers and the ratios),
OUT/table.md (the markdown tables) and the PNG plot; prints the text tables and then the
markdown.

Usage: report.py --out target/benchmark --plot docs/benchmarks/viewers.png
"""

import argparse
import json
import math
import os
import statistics
import sys

NAMES = {"ferrocast": "ferrocast", "cluster": "ferrocast cluster", "nginx": "nginx-rtmp",
         "nms": "node-media-server", "raw": "raw fan-out"}
PROTOS = {"rtmp": "RTMP play", "flv": "HTTP-FLV"}
# Ratio pairs (issue 15): ferrocast's protocol vs a peer's protocol, and the viewers-per-core
# ratio to reach. Viewers per core ≥ 2x is CPU per viewer ≤ 0.5x. The raw fan-out is the
# ceiling (one thread writing the same bytes to every socket): ferrocast should reach 70 % of it,
# protocol by protocol (on loopback a player's TCP acknowledgements cost the server more or less
# CPU depending on the protocol's exchanges; see docs/benchmarks.md).
PAIRS = [("rtmp", "nginx", "rtmp", 2.0), ("flv", "nginx", "rtmp", 2.0), ("flv", "nms", "flv", 3.0),
         ("flv", "raw", "flv", 0.7), ("rtmp", "raw", "rtmp", 0.7)]
RSS_PER_VIEWER_TARGET_KB = 16
FLV_LATENCY_TARGET_MS = 50
# A step whose median viewer is further behind than this is not serving live, however
# healthy its viewers look otherwise: the server has fallen behind and queues.
LIVE_P50_MS = 1000
GENERATOR_BUSY = 0.9  # cores per generator thread: the generator is the bottleneck beyond this
generator_busy = GENERATOR_BUSY  # for the run's generator threads (meta.json), set by load()
# Why a protocol a server serves could not be measured, when known.
KNOWN_FAILURES = {
    ("nms", "rtmp"): "node-media-server 4.4 sends RTMP media on message stream 0, not on the "
                     "stream the player created (ffmpeg ignores that); ferrocast-loadtest's RTMP "
                     "player (rml_rtmp 0.8) drops such messages, so no viewer gets a frame",
}
CONTENDED = 0.3  # cores used by other work on the machine during a window
# ksoftirqd cores in a window beyond which the server's figure may leave out network work its
# sends raised: ksoftirqd's CPU is in no process's (a batched-send experiment moved 0.03 cores
# there while the machine as a whole was no less busy).
SOFTIRQD_SPILL = 0.02
# nginx-rtmp runs one worker, node-media-server one JavaScript thread and the raw fan-out one
# writing thread: none can use more than a core. A peer that failed a step while using this much
# was saturated, so serving every viewer of it would have cost more than it used: its cores there
# give a lower bound on ferrocast's viewers-per-core ratio where no step was clean for both.
SATURATED_CORES = 0.95
DOES = {
    "ferrocast": "RTMP ingest, HLS (2 s segments to the local store), GOP cache for FLV and RTMP play",
    "cluster": "control, 2 origins, 2 edges, redis-server, s3s-fs: RTMP ingest and play on an origin, "
               "HLS segments to S3 and the index to Redis, HTTP-FLV on an edge over the gRPC relay",
    "nginx": "RTMP ingest, `hls on` (2 s fragments to disk), no GOP cache",
    "nms": "RTMP ingest, GOP cache for FLV and RTMP play; no HLS (4.x has none)",
    "raw": "the ceiling: `raw-fanout` pulls ferrocast's HTTP-FLV once and writes each read to every "
           "viewer from one thread (one write of a shared buffer, FLV tags or RTMP messages; "
           "ferrocast's CPU is not counted)",
}


def load(out):
    global generator_busy
    with open(os.path.join(out, "meta.json")) as f:
        meta = json.load(f)
    generator_busy = GENERATOR_BUSY * meta.get("generator_threads", 1)
    records = []
    with open(os.path.join(out, "records.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                records.append(json.loads(line))
    return meta, records


def dist(summary, field, key):
    d = summary.get(field) if summary else None
    return d.get(key) if d else None


def step_row(rec):
    """One viewer step as a flat row."""
    m = rec.get("measured") or {}
    lt = rec.get("loadtest") or {}
    p = lt.get(rec["protocol"]) or {}
    n = rec["viewers"]
    row = {
        "viewers": n,
        "round": rec.get("round", 1),
        "skipped": bool(rec.get("skipped")),
        "error": rec.get("error"),
        "cores": m.get("cores"),
        "cpu_s": m.get("cpu_s"),
        "wall_s": m.get("wall_s"),
        "rss_peak_kb": m.get("rss_peak_kb"),
        "rss_mean_kb": m.get("rss_mean_kb"),
        "generator_cores": m.get("generator_cores"),
        "publisher_cores": m.get("publisher_cores"),
        "other_cores": m.get("other_cores"),
        "softirqd_cores": m.get("softirqd_cores"),
        "receiving": p.get("viewers_receiving"),
        "started": p.get("viewers_started"),
        "dropped_frames": p.get("dropped_frames"),
        "late_frames": p.get("late_frames"),
        "stalls": p.get("stalls"),
        "gaps": p.get("gaps"),
        "errors": (p.get("errors") or {}).get("total"),
        "errors_first": (p.get("errors") or {}).get("first"),
        "reconnects": p.get("reconnects"),
        "latency_p50_ms": dist(p, "latency_ms", "p50_ms"),
        "latency_p99_ms": dist(p, "latency_ms", "p99_ms"),
        "ttff_p50_ms": dist(p, "ttff_ms", "p50_ms"),
        "ttff_p99_ms": dist(p, "ttff_ms", "p99_ms"),
        "bytes_in_per_s": p.get("bytes_in_per_s"),
    }
    row["generator_bound"] = (row["generator_cores"] or 0) >= generator_busy
    row["clean"] = bool(
        p
        and not row["skipped"]
        and not row["error"]
        and row["receiving"] == n
        and row["stalls"] == 0
        and row["gaps"] == 0
        and row["errors"] == 0
        and (row["latency_p50_ms"] is None or row["latency_p50_ms"] <= LIVE_P50_MS)
    )
    return row


# Counts of what went wrong: over rounds, their sum.
SUMMED = ("dropped_frames", "late_frames", "stalls", "gaps", "errors", "reconnects")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def median_measured(measured):
    """One server start's idle or baseline window per round: the median of each number."""
    measured = [m for m in measured if m]
    if not measured:
        return None
    return {k: median([m.get(k) for m in measured]) for k in ("cores", "rss_peak_kb", "publisher_cores")}


def combine_rounds(steps):
    """A step measured in several rounds (--rounds) as one row: the median of every measure,
    the sum of every failure count, clean only if every round was, generator-bound if any
    round was. Each round's cores stay in `cores_by_round` for the spread and paired ratios."""
    by_viewers = {}
    for s in steps:
        by_viewers.setdefault(s["viewers"], []).append(s)
    rows = []
    for n, group in sorted(by_viewers.items()):
        measured = [s for s in group if not s["skipped"]] or group
        row = dict(measured[0])
        for k, v in row.items():
            if k in SUMMED:
                row[k] = sum(s[k] for s in measured) if all(s[k] is not None for s in measured) else None
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("viewers", "round"):
                row[k] = median([s[k] for s in measured])
        row["receiving"] = min((s["receiving"] for s in measured if s["receiving"] is not None), default=None)
        row["error"] = next((s["error"] for s in measured if s["error"]), None)
        row["errors_first"] = next((s["errors_first"] for s in measured if s["errors_first"]), None)
        row["skipped"] = all(s["skipped"] for s in group)
        row["clean"] = all(s["clean"] for s in group)
        row["generator_bound"] = any(s["generator_bound"] for s in group)
        row["cores_by_round"] = {s["round"]: s["cores"] for s in measured if s["cores"] is not None}
        # A round that was not live keeps the step out, though the median may be live.
        row["worst_latency_p50_ms"] = max((s["latency_p50_ms"] for s in measured
                                           if s["latency_p50_ms"] is not None), default=None)
        rows.append(row)
    return rows


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def derive(meta, records):
    combos = {}  # (server, proto, kbps) -> {...}
    for rec in records:
        key = (rec["server"], rec["protocol"], rec["kbps"])
        c = combos.setdefault(key, {"steps": [], "idle": [], "baseline": [],
                                    "supported": True, "publisher": None, "error": None})
        kind = rec["kind"]
        if kind == "idle":
            c["idle"].append(rec["measured"])
        elif kind == "baseline":
            c["baseline"].append(rec["measured"])
        elif kind == "unsupported":
            c["supported"] = False
            probe = (rec.get("probe") or {}).get(rec["protocol"]) or {}
            c["error"] = ((probe.get("errors") or {}).get("first")
                          or KNOWN_FAILURES.get((rec["server"], rec["protocol"]))
                          or "no viewer received video")
        elif kind == "step":
            c["steps"].append(step_row(rec))
        elif kind == "publisher":
            c["publisher"] = (rec.get("loadtest") or {}).get("publishers")
        elif kind == "error":
            c["error"] = rec.get("error")
    for c in combos.values():
        c["steps"] = combine_rounds(c["steps"])
        c["idle"] = median_measured(c["idle"])
        c["baseline"] = median_measured(c["baseline"])

    derived = []
    for (server, proto, kbps), c in sorted(combos.items(), key=lambda kv: order(kv[0])):
        d = {"server": server, "protocol": proto, "kbps": kbps, "supported": c["supported"],
             "error": c["error"], "steps": c["steps"]}
        base = c["baseline"] or {}
        idle = c["idle"] or {}
        d["idle_rss_kb"] = idle.get("rss_peak_kb")
        d["baseline_cores"] = base.get("cores")
        d["baseline_rss_kb"] = base.get("rss_peak_kb")
        pub = c["publisher"] or {}
        d["publisher_max_send_lag_ms"] = pub.get("max_send_lag_ms")
        d["publisher_errors"] = (pub.get("errors") or {}).get("total")
        # A step whose load generator was saturated measured the generator, not the server.
        clean = [s for s in c["steps"] if s["clean"] and not s["generator_bound"]]
        d["largest_clean"] = None
        d["next_step"] = None
        for k in ("viewers_per_core", "cpu_per_1000_cores", "rss_per_viewer_kb",
                  "latency_p50_ms", "ttff_p50_ms", "cores_at_largest_clean",
                  "generator_cores_at_largest_clean"):
            d[k] = None
        d["generator_bound_steps"] = [s["viewers"] for s in c["steps"]
                                      if (s["generator_cores"] or 0) >= generator_busy]
        d["contended_steps"] = [s["viewers"] for s in c["steps"] if (s["other_cores"] or 0) > CONTENDED]
        d["softirqd_spill_steps"] = [s["viewers"] for s in c["steps"]
                                     if (s["softirqd_cores"] or 0) > SOFTIRQD_SPILL]
        d["largest_step"] = max((s["viewers"] for s in c["steps"] if not s["skipped"]), default=None)
        if c["supported"] and clean:
            top = clean[-1]
            n = top["viewers"]
            d["largest_clean"] = n
            d["cores_at_largest_clean"] = top["cores"]
            d["generator_cores_at_largest_clean"] = top["generator_cores"]
            if top["cores"]:
                d["viewers_per_core"] = n / top["cores"]
            # Slope between the largest two clean steps (the baseline counts as 0 viewers).
            below = clean[-2] if len(clean) >= 2 else (
                {"viewers": 0, "cores": d["baseline_cores"]} if d["baseline_cores"] is not None else None)
            if below and below["cores"] is not None and top["cores"] is not None:
                d["cpu_per_1000_cores"] = (top["cores"] - below["cores"]) / (n - below["viewers"]) * 1000
            if d["baseline_rss_kb"] is not None and top["rss_peak_kb"] is not None:
                d["rss_per_viewer_kb"] = (top["rss_peak_kb"] - d["baseline_rss_kb"]) / n
            d["latency_p50_ms"] = top["latency_p50_ms"]
            d["ttff_p50_ms"] = top["ttff_p50_ms"]
        above = [s for s in c["steps"] if s["viewers"] > (d["largest_clean"] or 0)]
        if c["supported"] and above:
            d["next_step"] = {"viewers": above[0]["viewers"], "why": why_not(above[0])}
        derived.append(d)

    ingest = []
    for server in meta["servers"]:
        for kbps in (1000, 2500):
            cs = [c for (s, _, k), c in combos.items() if s == server and k == kbps]
            if not cs:
                continue
            idle = mean([(c["idle"] or {}).get("rss_peak_kb") for c in cs])
            base = mean([(c["baseline"] or {}).get("rss_peak_kb") for c in cs])
            cores = mean([(c["baseline"] or {}).get("cores") for c in cs])
            pub = mean([(c["baseline"] or {}).get("publisher_cores") for c in cs])
            ingest.append({
                "server": server, "kbps": kbps, "does": DOES.get(server),
                "idle_rss_kb": idle, "rss_1_publisher_kb": base,
                "rss_per_publisher_kb": base - idle if base is not None and idle is not None else None,
                "ingest_cores": cores, "publisher_cores": pub, "measurements": len(cs),
            })

    ratios = []
    by = {(d["server"], d["protocol"], d["kbps"]): d for d in derived}
    for kbps in (1000, 2500):
        for proto, peer, peer_proto, target in PAIRS:
            f, p = by.get(("ferrocast", proto, kbps)), by.get((peer, peer_proto, kbps))
            if not f or not p:
                continue
            r = {"kbps": kbps, "protocol": proto, "peer": peer, "peer_protocol": peer_proto,
                 "viewers_per_core_target": target}
            for k in ("viewers_per_core", "cpu_per_1000_cores", "rss_per_viewer_kb",
                      "latency_p50_ms", "ttff_p50_ms"):
                a, b = f.get(k), p.get(k)
                r[k] = a / b if a is not None and b not in (None, 0) and f["supported"] else None
            v = r["viewers_per_core"]
            r["viewers_per_core_met"] = None if v is None else v >= target
            # Like for like: the largest step both served cleanly, generator not saturated.
            fc = {s["viewers"]: s for s in f["steps"] if s["clean"] and not s["generator_bound"]}
            pc = {s["viewers"]: s for s in p["steps"] if s["clean"] and not s["generator_bound"]}
            common = max(set(fc) & set(pc), default=None) if f["supported"] else None
            r["common_step"] = common
            r["viewers_per_core_at_common_step"] = (
                pc[common]["cores"] / fc[common]["cores"]
                if common and fc[common]["cores"] and pc[common]["cores"] else None)
            # Each round's own ratio, the two servers measured minutes apart (--rounds).
            f_rounds = fc[common]["cores_by_round"] if common else {}
            p_rounds = pc[common]["cores_by_round"] if common else {}
            r["viewers_per_core_at_common_step_by_round"] = {
                k: p_rounds[k] / f_rounds[k] for k in sorted(set(f_rounds) & set(p_rounds))
                if f_rounds[k] and p_rounds[k]}
            r["saturated_peer_bound"] = None if common else saturated_peer_bound(fc, p["steps"])
            r["rss_per_viewer_at_common_step"] = None
            if common and f["baseline_rss_kb"] is not None and p["baseline_rss_kb"] is not None:
                fr = (fc[common]["rss_peak_kb"] - f["baseline_rss_kb"]) / common
                pr = (pc[common]["rss_peak_kb"] - p["baseline_rss_kb"]) / common
                r["rss_per_viewer_at_common_step"] = fr / pr if pr else None
            # The step grid caps what can be shown: both clean at the largest step.
            r["both_clean_at_largest_step"] = (
                f["largest_clean"] is not None and f["largest_clean"] == f["largest_step"]
                and p["largest_clean"] is not None and p["largest_clean"] == p["largest_step"])
            ratios.append(r)

    targets = []
    for d in derived:
        if d["server"] != "ferrocast" or not d["supported"]:
            continue
        rpv = d["rss_per_viewer_kb"]
        targets.append({"kbps": d["kbps"], "protocol": d["protocol"], "measure": "rss_per_viewer_kb",
                        "value": rpv, "target": f"<= {RSS_PER_VIEWER_TARGET_KB}",
                        "met": None if rpv is None else rpv <= RSS_PER_VIEWER_TARGET_KB})
        if d["protocol"] == "flv":
            lat = d["latency_p50_ms"]
            targets.append({"kbps": d["kbps"], "protocol": "flv", "measure": "latency_p50_ms",
                            "value": lat, "target": f"<= {FLV_LATENCY_TARGET_MS}",
                            "met": None if lat is None else lat <= FLV_LATENCY_TARGET_MS})
    for r in ratios:
        targets.append({"kbps": r["kbps"], "protocol": r["protocol"],
                        "measure": f"viewers_per_core vs {peer_label(r)}",
                        "value": r["viewers_per_core"], "target": f">= {r['viewers_per_core_target']}x",
                        "met": r["viewers_per_core_met"]})
        v = r["viewers_per_core_at_common_step"]
        targets.append({"kbps": r["kbps"], "protocol": r["protocol"],
                        "measure": f"viewers_per_core vs {peer_label(r)} at {r['common_step']} viewers",
                        "value": v, "target": f">= {r['viewers_per_core_target']}x",
                        "met": None if v is None else v >= r["viewers_per_core_target"]})
        bound = r["saturated_peer_bound"]
        if bound:
            targets.append({"kbps": r["kbps"], "protocol": r["protocol"],
                            "measure": f"viewers_per_core vs {peer_label(r)} at {bound['viewers']} viewers, "
                                       "at least (the peer saturated and was not clean there)",
                            "value": bound["ratio"], "target": f">= {r['viewers_per_core_target']}x",
                            "met": bound["ratio"] >= r["viewers_per_core_target"]})
    return derived, ingest, ratios, targets


def saturated_peer_bound(ferrocast_clean, peer_steps):
    """The smallest step ferrocast served cleanly where the peer was not clean while saturated
    (SATURATED_CORES): the peer's cores over ferrocast's there, a lower bound on the
    viewers-per-core ratio, since the peer would have needed more to serve everyone."""
    for s in peer_steps:
        f = ferrocast_clean.get(s["viewers"])
        if (f and f["cores"] and not s["clean"] and not s["skipped"] and not s["generator_bound"]
                and (s["cores"] or 0) >= SATURATED_CORES):
            return {"viewers": s["viewers"], "ratio": s["cores"] / f["cores"], "peer_cores": s["cores"],
                    "peer_receiving": s["receiving"], "peer_errors": s["errors"]}
    return None


def why_not(s):
    """Why a step does not count: what went wrong, briefly."""
    if s["skipped"]:
        return "skipped: an earlier step collapsed"
    if s["error"]:
        return s["error"]
    parts = []
    if s["generator_bound"]:
        parts.append(f"load generator saturated ({s['generator_cores']:.2f} cores)")
    if s["receiving"] is not None and s["receiving"] != s["viewers"]:
        parts.append(f"{s['receiving']} of {s['viewers']} receiving")
    if s["stalls"]:
        parts.append(f"{s['stalls']} stalls")
    worst_p50 = s.get("worst_latency_p50_ms") or s["latency_p50_ms"] or 0
    if worst_p50 > LIVE_P50_MS:
        parts.append(f"latency p50 {worst_p50 / 1000:.1f} s: not live")
    if s["gaps"]:
        parts.append(f"{s['gaps']} gaps ({s['dropped_frames']} frames dropped)")
    if s["errors"]:
        first = "; ".join(f"{k}: {v}" for k, v in (s["errors_first"] or {}).items())
        parts.append(f"{s['errors']:,} errors ({first})")
    return ", ".join(parts) or ("clean" if s["clean"] else "not clean in every round")


def order(key):
    server, proto, kbps = key
    return (kbps, ["ferrocast", "cluster", "nginx", "nms", "raw"].index(server) if server in NAMES else 9,
            ["rtmp", "flv"].index(proto) if proto in PROTOS else 9)


def fmt(v, digits=0, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    return f"{v:,.{digits}f}{unit}"


def ratio(v):
    return "n/a" if v is None else f"{v:.2f}x"


def peer_label(r):
    return f"{NAMES[r['peer']]} {PROTOS[r['peer_protocol']]}"


def label(d):
    return f"{NAMES[d['server']]} {PROTOS[d['protocol']]}"


def markdown(meta, derived, ingest, ratios, targets):
    lines = []
    add = lines.append
    mach = meta["machine"]
    add(f"Run {meta['date']}: `{meta['command']}` on {mach['nproc']} × {mach['cpu']}, "
        f"{mach['mem_gib']} GiB, kernel {mach['kernel']}; steps {', '.join(map(str, meta['steps']))} "
        f"viewers, each measured over {meta['hold_s']} s after its ramp.")
    add("")
    for kbps in (1000, 2500):
        rows = [d for d in derived if d["kbps"] == kbps]
        if not rows:
            continue
        add(f"**{kbps / 1000:g} Mb/s clip** (largest clean step: every viewer receiving, no stall, gap or error, "
            f"latency p50 at most {LIVE_P50_MS / 1000:g} s)")
        add("")
        add("| server, play | viewers per core | CPU per 1000 viewers (cores) | RSS per viewer (KB) "
            "| latency p50 (ms) | TTFF p50 (ms) | largest clean step | server / generator cores there "
            "| the next step |")
        add("|---|---|---|---|---|---|---|---|---|")
        for d in rows:
            if not d["supported"]:
                add(f"| {label(d)} | n/a | | | | | | | |")
                continue
            nxt = d["next_step"]
            nxt = f"{nxt['viewers']}: {nxt['why']}" if nxt else "—"
            add(f"| {label(d)} | {fmt(d['viewers_per_core'])} | {fmt(d['cpu_per_1000_cores'], 3)} "
                f"| {fmt(d['rss_per_viewer_kb'], 1)} | {fmt(d['latency_p50_ms'], 1)} | {fmt(d['ttff_p50_ms'], 1)} "
                f"| {fmt(d['largest_clean'])} | {fmt(d['cores_at_largest_clean'], 3)} / "
                f"{fmt(d['generator_cores_at_largest_clean'], 2)} | {nxt} |")
        for r in [r for r in ratios if r["kbps"] == kbps]:
            by_round = list(r["viewers_per_core_at_common_step_by_round"].values())
            spread = (f" (rounds {min(by_round):.2f}–{max(by_round):.2f}x)" if len(by_round) > 1 else "")
            common = (f"{ratio(r['viewers_per_core_at_common_step'])} at {r['common_step']} viewers{spread}, "
                      f"RSS per viewer {ratio(r['rss_per_viewer_at_common_step'])}"
                      if r["common_step"] else "no common clean step" + bound_text(r))
            add(f"| **ferrocast {PROTOS[r['protocol']]} / {peer_label(r)}** "
                f"| **{ratio(r['viewers_per_core'])}** (target ≥ {r['viewers_per_core_target']:g}x) "
                f"| {ratio(r['cpu_per_1000_cores'])} | {ratio(r['rss_per_viewer_kb'])} "
                f"| {ratio(r['latency_p50_ms'])} | {ratio(r['ttff_p50_ms'])} | | | like for like: {common} |")
        add("")
        for d in rows:
            if not d["supported"]:
                add(f"n/a: {label(d)}: {short_error(d['error'], 400)}.")
                add("")
    # Targets concern `ferrocast dev`; a run without it (e.g. the cluster alone) has none.
    if targets:
        add("Targets for ferrocast:")
        add("")
        add("| clip | play | measure | value | target | met |")
        add("|---|---|---|---|---|---|")
        for t in targets:
            v = t["value"]
            val = "n/a" if v is None else (f"{v:.2f}x" if "viewers_per_core" in t["measure"] else f"{v:.1f}")
            t = dict(t, measure=t["measure"].replace("viewers_per_core", "viewers per core")
                     .replace("rss_per_viewer_kb", "RSS per viewer (KB)").replace("latency_p50_ms", "latency p50 (ms)"))
            met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
            add(f"| {t['kbps'] / 1000:g} Mb/s | {PROTOS[t['protocol']]} | {t['measure']} "
                f"| {val} | {t['target']} | {met} |")
        add("")
    add("Ingest, one publisher and no viewers (mean over the server's fresh starts):")
    add("")
    add("| server | clip | what it does with the stream | RSS idle (MiB) | RSS per publisher (MiB) "
        "| CPU per stream (% of a core) | publisher (generator) CPU (% of a core) |")
    add("|---|---|---|---|---|---|---|")
    for i in ingest:
        add(f"| {NAMES[i['server']]} | {i['kbps'] / 1000:g} Mb/s | {i['does']} | {fmt(kib_mib(i['idle_rss_kb']), 1)} "
            f"| {fmt(kib_mib(i['rss_per_publisher_kb']), 2)} | {fmt(pct(i['ingest_cores']), 1)} "
            f"| {fmt(pct(i['publisher_cores']), 1)} |")
    add("")
    rounds = meta.get("rounds", 1)
    if rounds > 1:
        add(f"Every server was measured in {rounds} rounds, one after another: each step shows the "
            "median of its rounds (each round's server cores in brackets), the failure counts summed "
            "over the rounds; a step is clean only if it was in every round.")
        add("")
    add("Every step (server cores = CPU seconds / wall seconds over the window; RSS = peak; "
        "latency and TTFF over the whole run, ramp included; generator = the viewers' "
        "ferrocast-loadtest process; other = the rest of the machine, publisher and ksoftirqd included; "
        "ksoftirqd = the kernel's softirq threads, whose work is in no process's CPU; "
        f"⚠ = the generator used ≥ {generator_busy:g} cores, {GENERATOR_BUSY} per thread, so the step "
        "measured it, not the server):")
    add("")
    add("| clip | server, play | viewers | receiving | server cores | RSS (MiB) | dropped | late | stalls | gaps "
        "| errors | latency p50 / p99 (ms) | TTFF p50 / p99 (ms) | generator cores | other cores | ksoftirqd cores |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d in derived:
        for s in d["steps"]:
            if s["skipped"]:
                add(f"| {d['kbps'] / 1000:g} Mb/s | {label(d)} | {s['viewers']} | skipped (an earlier step collapsed) "
                    "| | | | | | | | | | | | |")
                continue
            flag = " ⚠" if s["generator_bound"] else ""
            add(f"| {d['kbps'] / 1000:g} Mb/s | {label(d)} | {s['viewers']}{flag} | {fmt(s['receiving'])} "
                f"| {fmt(s['cores'], 3)}{round_cores(s)} | {fmt(kib_mib(s['rss_peak_kb']), 1)} | {fmt(s['dropped_frames'])} "
                f"| {fmt(s['late_frames'])} | {fmt(s['stalls'])} | {fmt(s['gaps'])} | {fmt(s['errors'])} "
                f"| {fmt(s['latency_p50_ms'], 1)} / {fmt(s['latency_p99_ms'], 0)} "
                f"| {fmt(s['ttff_p50_ms'], 1)} / {fmt(s['ttff_p99_ms'], 0)} | {fmt(s['generator_cores'], 2)} "
                f"| {fmt(s['other_cores'], 2)} | {fmt(s['softirqd_cores'], 3)} |")
    add("")
    spills = [f"{label(d)} at {d['kbps'] / 1000:g} Mb/s ({', '.join(map(str, d['softirqd_spill_steps']))} viewers)"
              for d in derived if d.get("softirqd_spill_steps")]
    if spills:
        add(f"ksoftirqd used more than {SOFTIRQD_SPILL} cores during: {'; '.join(spills)}. Those servers' "
            "cores may leave out network work their own sends raised.")
        add("")
    return "\n".join(lines)


def round_cores(step):
    """Each round's cores after a step's median, when there were several rounds."""
    cores = step.get("cores_by_round") or {}
    if len(cores) < 2:
        return ""
    return " (" + ", ".join(f"{c:.3f}" for _, c in sorted(cores.items())) + ")"


def bound_text(r):
    """The saturated-peer bound, in words, for a pair with no common clean step."""
    b = r["saturated_peer_bound"]
    if not b:
        return ""
    return (f"; at {b['viewers']} viewers {NAMES[r['peer']]} used {b['peer_cores']:.2f} cores and was not clean "
            f"({fmt(b['peer_receiving'])} receiving, {fmt(b['peer_errors'])} errors), ferrocast was clean: "
            f"at least {b['ratio']:.2f}x")


def short_error(e, width=90):
    if isinstance(e, dict):
        e = "; ".join(f"{k}: {v}" for k, v in e.items())
    e = str(e or "")
    return (e[:width] + "…") if len(e) > width else e


def kib_mib(v):
    return None if v is None else v / 1024


def pct(v):
    return None if v is None else v * 100


def text(derived, ratios):
    out = []
    for kbps in (1000, 2500):
        rows = [d for d in derived if d["kbps"] == kbps]
        if not rows:
            continue
        out.append(f"== {kbps / 1000:g} Mb/s")
        out.append(f"{'server, play':32} {'viewers/core':>12} {'CPU/1000':>9} {'RSS/viewer KB':>13} "
                   f"{'lat p50 ms':>10} {'TTFF p50':>9} {'clean at':>9} {'gen cores':>9}")
        for d in rows:
            if not d["supported"]:
                out.append(f"{label(d):32} n/a: {short_error(d['error'])}")
                continue
            out.append(f"{label(d):32} {fmt(d['viewers_per_core']):>12} {fmt(d['cpu_per_1000_cores'], 3):>9} "
                       f"{fmt(d['rss_per_viewer_kb'], 1):>13} {fmt(d['latency_p50_ms'], 1):>10} "
                       f"{fmt(d['ttff_p50_ms'], 1):>9} {fmt(d['largest_clean']):>9} "
                       f"{fmt(d['generator_cores_at_largest_clean'], 2):>9}"
                       + (f"  next {d['next_step']['viewers']}: {d['next_step']['why']}" if d["next_step"] else ""))
        for r in [r for r in ratios if r["kbps"] == kbps]:
            out.append(f"{'ferrocast ' + r['protocol'] + '/' + r['peer'] + ' ' + r['peer_protocol']:32} "
                       f"{ratio(r['viewers_per_core']):>12} {ratio(r['cpu_per_1000_cores']):>9} "
                       f"{ratio(r['rss_per_viewer_kb']):>13} {ratio(r['latency_p50_ms']):>10} "
                       f"{ratio(r['ttff_p50_ms']):>9}"
                       + (f"  at {r['common_step']} viewers: {ratio(r['viewers_per_core_at_common_step'])}"
                          if r["common_step"] else bound_text(r)))
        out.append("")
    return "\n".join(out)


def plot(derived, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {("ferrocast", "rtmp"): ("tab:blue", "-"), ("ferrocast", "flv"): ("tab:blue", "--"),
              ("cluster", "rtmp"): ("tab:purple", "-"), ("cluster", "flv"): ("tab:purple", "--"),
              ("nginx", "rtmp"): ("tab:green", "-"), ("nms", "rtmp"): ("tab:red", "-"),
              ("nms", "flv"): ("tab:red", "--"), ("raw", "flv"): ("tab:gray", ":"),
              ("raw", "rtmp"): ("tab:gray", "-.")}
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True)
    ticks = sorted({s["viewers"] for d in derived for s in d["steps"]})
    for col, kbps in enumerate((1000, 2500)):
        ax_cpu, ax_lat = axes[0][col], axes[1][col]
        for d in [d for d in derived if d["kbps"] == kbps and d["supported"]]:
            steps = [s for s in d["steps"] if not s["skipped"] and s["cores"] is not None]
            if not steps:
                continue
            color, ls = styles.get((d["server"], d["protocol"]), ("black", ":"))
            xs = [s["viewers"] for s in steps]
            ax_cpu.plot(xs, [s["cores"] for s in steps], color=color, linestyle=ls, label=label(d))
            lat = [(s["viewers"], s["latency_p50_ms"]) for s in steps if s["latency_p50_ms"] is not None]
            if lat:
                ax_lat.plot([x for x, _ in lat], [y for _, y in lat], color=color, linestyle=ls, label=label(d))
            for ax, key in ((ax_cpu, "cores"), (ax_lat, "latency_p50_ms")):
                for s in steps:
                    if s[key] is None:
                        continue
                    ax.plot(s["viewers"], s[key], marker="o", color=color,
                            markerfacecolor=color if s["clean"] and not s["generator_bound"] else "white",
                            linestyle="none")
        ax_cpu.set_title(f"{kbps / 1000:g} Mb/s 720p30 clip")
        ax_cpu.set_ylabel("server CPU (cores)")
        ax_lat.set_ylabel("latency p50 (ms, server-added, loopback)")
        lats = [s["latency_p50_ms"] for d in derived if d["kbps"] == kbps for s in d["steps"]
                if s["latency_p50_ms"]]
        if lats and max(lats) / max(min(lats), 1e-3) > 20:
            ax_lat.set_yscale("log")
            ax_lat.yaxis.set_major_formatter(ScalarFormatter())
            ax_lat.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax_lat.set_ylim(bottom=0)
        ax_lat.set_xlabel("viewers")
        for ax in (ax_cpu, ax_lat):
            ax.set_xscale("log")
            ax.set_xticks(ticks)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle("Server CPU and latency vs viewers, one server at a time on 2 cores\n"
                 "hollow marker: a viewer failed, stalled or skipped, or the load generator was saturated",
                 fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--plot", required=True)
    args = ap.parse_args()
    meta, records = load(args.out)
    derived, ingest, ratios, targets = derive(meta, records)
    md = markdown(meta, derived, ingest, ratios, targets)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(args.out, "benchmark.json"), "w") as f:
        json.dump({"meta": meta, "derived": derived, "ingest": ingest, "ratios": ratios,
                   "targets": targets, "records": records}, f, indent=1)
    plot(derived, args.plot)
    print(text(derived, ratios))
    print("---- markdown (also in %s) ----" % os.path.join(args.out, "table.md"))
    print(md)
    print(f"JSON: {os.path.join(args.out, 'benchmark.json')}; plot: {args.plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
