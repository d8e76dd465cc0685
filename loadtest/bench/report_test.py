#!/usr/bin/env python3
"""Tests of report.py's rules for rounds (--rounds) and for steps that are not live.

    python3 loadtest/bench/report_test.py

Standard library only (the plot, which needs matplotlib, is not drawn).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

META = {"servers": ["ferrocast", "nginx", "nms"], "generator_threads": 2}


def step(server, proto, viewers, cores, round_=1, p50=8.0, stalls=0, receiving=None, errors=0,
         softirqd=0.0):
    """A step record as benchmark.sh writes it."""
    return {
        "server": server, "kind": "step", "kbps": 2500, "protocol": proto, "viewers": viewers,
        "round": round_,
        "measured": {"cores": cores, "rss_peak_kb": 40000, "generator_cores": 0.5, "other_cores": 0.0,
                     "softirqd_cores": softirqd},
        "loadtest": {proto: {
            "viewers_receiving": viewers if receiving is None else receiving,
            "viewers_started": viewers, "dropped_frames": 0, "late_frames": 0, "stalls": stalls,
            "gaps": 0, "errors": {"total": errors, "first": None}, "reconnects": 0,
            "latency_ms": {"p50_ms": p50, "p99_ms": p50 * 2}, "ttff_ms": {"p50_ms": 1.0, "p99_ms": 2.0},
        }},
    }


def baseline(server, proto, round_=1):
    return {"server": server, "kind": "baseline", "kbps": 2500, "protocol": proto, "viewers": 0,
            "round": round_, "measured": {"cores": 0.01, "rss_peak_kb": 30000, "publisher_cores": 0.01}}


def derive(records):
    derived, _, ratios, _ = report.derive(META, records)
    by = {(d["server"], d["protocol"]): d for d in derived}
    return by, ratios


class Rounds(unittest.TestCase):
    def test_a_step_is_the_median_of_its_rounds_and_ratios_pair_the_rounds(self):
        records = [baseline("ferrocast", "rtmp", r) for r in (1, 2, 3)]
        records += [baseline("nginx", "rtmp", r) for r in (1, 2, 3)]
        for r, (f, n) in enumerate([(0.30, 0.60), (0.40, 0.60), (0.32, 0.48)], start=1):
            records += [step("ferrocast", "rtmp", 1000, f, r), step("nginx", "rtmp", 1000, n, r)]
        by, ratios = derive(records)
        top = by[("ferrocast", "rtmp")]["steps"][0]
        self.assertAlmostEqual(top["cores"], 0.32)
        self.assertEqual(top["cores_by_round"], {1: 0.30, 2: 0.40, 3: 0.32})
        pair = next(r for r in ratios if r["protocol"] == "rtmp" and r["peer"] == "nginx")
        self.assertAlmostEqual(pair["viewers_per_core_at_common_step"], 0.60 / 0.32)
        self.assertEqual(sorted(pair["viewers_per_core_at_common_step_by_round"]), [1, 2, 3])
        self.assertAlmostEqual(pair["viewers_per_core_at_common_step_by_round"][2], 0.60 / 0.40)

    def test_a_step_is_clean_only_if_every_round_was_and_failures_add_up(self):
        records = [baseline("ferrocast", "rtmp", r) for r in (1, 2)]
        records += [step("ferrocast", "rtmp", 1000, 0.3, 1), step("ferrocast", "rtmp", 1000, 0.3, 2, stalls=2)]
        records += [step("ferrocast", "rtmp", 2000, 0.5, 1), step("ferrocast", "rtmp", 2000, 0.5, 2, receiving=990)]
        by, _ = derive(records)
        steps = {s["viewers"]: s for s in by[("ferrocast", "rtmp")]["steps"]}
        self.assertFalse(steps[1000]["clean"])
        self.assertEqual(steps[1000]["stalls"], 2)
        self.assertFalse(steps[2000]["clean"])
        self.assertEqual(steps[2000]["receiving"], 990)
        self.assertIsNone(by[("ferrocast", "rtmp")]["largest_clean"])


class NotLive(unittest.TestCase):
    def test_a_step_whose_median_viewer_is_seconds_behind_is_not_clean(self):
        records = [baseline("nginx", "rtmp"), step("nginx", "rtmp", 1000, 0.58, p50=20.0),
                   step("nginx", "rtmp", 2000, 0.72, p50=2400.0)]
        by, _ = derive(records)
        nginx = by[("nginx", "rtmp")]
        self.assertEqual(nginx["largest_clean"], 1000)
        self.assertIn("not live", nginx["next_step"]["why"])

    def test_a_step_not_live_in_one_round_is_not_clean_and_says_so(self):
        records = [baseline("nginx", "rtmp", r) for r in (1, 2, 3)]
        for r, p50 in enumerate([1442.0, 64.0, 45.0], start=1):
            records += [step("nginx", "rtmp", 1000, 0.55, r, p50=15.0),
                        step("nginx", "rtmp", 2000, 0.74, r, p50=p50)]
        by, _ = derive(records)
        nginx = by[("nginx", "rtmp")]
        self.assertEqual(nginx["largest_clean"], 1000)
        self.assertIn("1.4 s: not live", nginx["next_step"]["why"])



class SaturatedPeer(unittest.TestCase):
    def flv_vs_nms(self, nms_cores, nms_receiving):
        records = [baseline("ferrocast", "flv"), baseline("nms", "flv"),
                   step("ferrocast", "flv", 1000, 0.25),
                   step("nms", "flv", 1000, nms_cores, receiving=nms_receiving, errors=1000 - nms_receiving)]
        derived, _, ratios, targets = report.derive(META, records)
        pair = next(r for r in ratios if r["protocol"] == "flv" and r["peer"] == "nms")
        bound_targets = [t for t in targets if "at least" in t["measure"]]
        return pair, bound_targets

    def test_a_peer_that_fails_a_step_using_a_whole_core_bounds_the_ratio_from_below(self):
        pair, bound_targets = self.flv_vs_nms(1.004, 893)
        self.assertIsNone(pair["common_step"])
        self.assertEqual(pair["saturated_peer_bound"]["viewers"], 1000)
        self.assertAlmostEqual(pair["saturated_peer_bound"]["ratio"], 1.004 / 0.25)
        self.assertEqual(len(bound_targets), 1)
        self.assertTrue(bound_targets[0]["met"])
        self.assertIn("at least 4.02x", report.bound_text(pair))

    def test_a_peer_that_fails_with_cores_to_spare_gives_no_bound(self):
        pair, bound_targets = self.flv_vs_nms(0.6, 893)
        self.assertIsNone(pair["saturated_peer_bound"])
        self.assertEqual(bound_targets, [])

    def test_a_common_clean_step_is_used_instead_of_a_bound(self):
        pair, bound_targets = self.flv_vs_nms(1.0, 1000)
        self.assertEqual(pair["common_step"], 1000)
        self.assertIsNone(pair["saturated_peer_bound"])
        self.assertEqual(bound_targets, [])



class SoftirqSpill(unittest.TestCase):
    def test_a_step_where_ksoftirqd_was_busy_is_named_under_the_table(self):
        records = [baseline("ferrocast", "rtmp"), step("ferrocast", "rtmp", 1000, 0.25),
                   step("ferrocast", "rtmp", 2000, 0.45, softirqd=0.03)]
        meta = dict(META, date="d", command="c", steps=[1000, 2000], hold_s=20,
                    machine={"nproc": 2, "cpu": "cpu", "mem_gib": 24, "kernel": "k"})
        derived, ingest, ratios, targets = report.derive(meta, records)
        by = {(d["server"], d["protocol"]): d for d in derived}
        self.assertEqual(by[("ferrocast", "rtmp")]["softirqd_spill_steps"], [2000])
        table = report.markdown(meta, derived, ingest, ratios, targets)
        self.assertIn("ksoftirqd used more than 0.02 cores during: ferrocast RTMP play at 2.5 Mb/s (2000 viewers)",
                      table)
        self.assertIn("| 0.030 |", table)

    def test_a_quiet_ksoftirqd_names_nothing(self):
        records = [baseline("ferrocast", "rtmp"), step("ferrocast", "rtmp", 1000, 0.25, softirqd=0.001)]
        derived, _, _, _ = report.derive(META, records)
        self.assertEqual(derived[0]["softirqd_spill_steps"], [])


if __name__ == "__main__":
    unittest.main()
