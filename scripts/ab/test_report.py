"""`make ab-selftest`: the report's rules on made-up runs (no server, no timing).

Checks what a reader of report.md sees: a latency percentile is a number
only when no round was client-bound, the validity check of issue 12 (p999 of
workload (a) at 50% load: valid in every round, max/min <= 2x), the server
CPU table and the closing note's ratios.
"""

from __future__ import annotations

import unittest
from types import SimpleNamespace

import report
import summary

TARGETS = ["molt-c", "molt seg", "memcached"]


def run(target: str, rnd: int, p999: int, bound_p999: bool = False, cpu: float = 10.0) -> dict:
    lat = {"p50": 40, "p90": 60, "p99": 100, "p999": p999, "max": 2 * p999}
    return {"target": target, "round": rnd, "workload": "a", "rate": 20000, "ops_per_sec": 20000.0,
            "latency_us": lat, "send_lag_us": {"p50": 1, "p99": 5, "p999": 200 if bound_p999 else 10},
            "reportable_us": {"p50": 40, "p90": 60, "p99": 100, "p999": "client-bound" if bound_p999 else p999},
            "cpu_us_per_request": cpu, "bench": ["molt-bench ..."]}


def results(runs: list[dict]) -> dict:
    return {"plan": {"mode": "quick", "runs": 3, "main_load": 0.5, "lat_seconds": 1.0}, "baseline": "molt-c",
            "reference": "memcached", "targets": {t: "cmd" for t in TARGETS},
            "rates": {"load_a_50": {"rate": 20000, "why": "test", "load": 0.5, "workload": "a", "threads": 1}},
            "runs": {"load_a_50": runs}}


class ClientBoundRule(unittest.TestCase):
    def test_one_late_round_makes_the_cell_client_bound(self):
        runs = [run(t, r, 300) for r in range(3) for t in TARGETS]
        runs[4] = run("molt seg", 1, 300, bound_p999=True)
        res = results(runs)
        c = report.cells(res, "load_a_50", "p999")
        self.assertEqual(report.shown(c["molt seg"]), "client-bound (1/3)")
        self.assertEqual(report.shown(c["molt-c"]), "300")
        # p50 of the same runs stands
        self.assertEqual(report.shown(report.cells(res, "load_a_50", "p50")["molt seg"]), "40")
        table = "\n".join(report.metric_table(res, summary.metric("load_a_50", "p999")))
        self.assertIn("| molt seg | client-bound (1/3) | 300 - 300 | - | - | 3 |", table)

    def test_validity_check(self):
        good = [run(t, r, 300 + 100 * r) for r in range(3) for t in TARGETS]
        text = "\n".join(report.check_section(results(good), "load_a_50"))
        self.assertIn("| memcached | 400 | 1.67 | 3/3 | yes |", text)
        self.assertIn("**Valid:**", text)
        wide = [run(t, r, 300 * (r + 1)) for r in range(3) for t in TARGETS]  # 900/300 = 3x
        text = "\n".join(report.check_section(results(wide), "load_a_50"))
        self.assertIn("| molt-c | 600 | 3.00 | 3/3 | NO |", text)
        self.assertIn("**Not valid on this run:**", text)

    def test_closing_note_ratios(self):
        runs = [run("molt-c", r, 400) for r in range(3)] + [run("molt seg", r, 200) for r in range(3)]
        runs += [run("memcached", r, 800) for r in range(3)]
        text = "\n".join(report.closing_note(results(runs)))
        self.assertIn("| molt-c / memcached | 1.00x | 1.00x | 0.50x |", text)
        self.assertIn("| molt seg / memcached | 1.00x | 1.00x | 0.25x |", text)
        self.assertIn("| molt seg / molt-c | 1.00x | 1.00x | 0.50x |", text)
        self.assertIn("make ab QUICK=1", text)
        runs[0] = run("molt-c", 0, 400, bound_p999=True)
        text = "\n".join(report.closing_note(results(runs)))
        self.assertIn("| molt seg / molt-c | 1.00x | 1.00x | client-bound |", text)


class ThreadsInTheCheck(unittest.TestCase):
    def test_runs_where_several_server_threads_ran_are_listed_thread_by_thread(self):
        runs = [run(t, r, 500) for t in TARGETS for r in range(3)]
        runs[6]["thread_cpu_s"] = {"memcached": 2.61, "mc-lrumaint": 0.04}  # memcached, round 1
        runs[0]["thread_cpu_s"] = {"molt-c": 2.5}  # one thread: nothing to say
        text = "\n".join(report.check_section(results(runs), "load_a_50"))
        self.assertIn("memcached round 1 (p999 500 us): memcached 2.61, mc-lrumaint 0.04.", text)
        self.assertNotIn("molt-c round 1 (p999", text)


class RepeatWhenTheClientWasLate(unittest.TestCase):
    """run.py measures a validity-figure run again while its p999 is the client's."""

    def alternate(self, late: dict[str, list[bool]], rounds: int = 1) -> dict:
        import run as ab_run

        def measure(t: SimpleNamespace) -> dict:
            queue = late.get(t.name, [])
            return run(t.name, 0, 300, bound_p999=queue.pop(0) if queue else False)

        targets = [SimpleNamespace(name=t) for t in ("molt-c", "molt seg")]
        fig = ab_run.Figure("load_a_50", targets, measure, lambda r: "", 0.0, rounds, ab_run.client_late_at_p999)
        res = {"runs": {}, "loadavg": {}}
        ab_run.alternate(fig, res, ab_run.Clock([fig]))
        return res

    def test_a_late_run_is_measured_again_and_listed(self):
        res = self.alternate({"molt seg": [True, False]})
        kept = res["runs"]["load_a_50"]
        self.assertEqual([r["target"] for r in kept], ["molt-c", "molt seg"])
        self.assertEqual(kept[1]["reportable_us"]["p999"], 300)
        again = res["repeated"]["load_a_50"]
        self.assertEqual(len(again), 1)
        self.assertEqual(again[0]["why"], "client send lag p999 200 us vs p999 300 us")
        res.update({k: v for k, v in results([]).items() if k != "runs"})
        text = "\n".join(report.check_section(res, "load_a_50"))
        self.assertIn("Measured again because the client was late (1 run(s)", text)
        self.assertIn("molt seg round 1, client send lag p999 200 us vs p999 300 us", text)

    def test_a_stalled_client_is_measured_again_though_its_p999_stands(self):
        import run as ab_run
        rec = run("molt-c", 0, 13_000)
        rec["send_lag_us"]["p999"] = 712  # 5% of p999: the cell stands, the machine stalled
        self.assertIn("712 us", ab_run.client_late_at_p999(rec))
        rec["send_lag_us"]["p999"] = ab_run.QUIET_LAG_P999_US
        self.assertIsNone(ab_run.client_late_at_p999(rec))

    def test_repeats_are_bounded_and_the_last_attempt_stands(self):
        import run as ab_run
        res = self.alternate({"molt seg": [True] * 10})
        self.assertEqual(len(res["repeated"]["load_a_50"]), ab_run.MAX_REPEATS)
        kept = res["runs"]["load_a_50"]
        self.assertEqual(kept[1]["reportable_us"]["p999"], "client-bound")

    def test_a_figure_repeats_at_most_its_budget(self):
        import run as ab_run
        res = self.alternate({"molt-c": [True] * 20, "molt seg": [True] * 20}, rounds=6)
        self.assertEqual(len(res["repeated"]["load_a_50"]), ab_run.REPEAT_BUDGET)
        self.assertEqual(len(res["runs"]["load_a_50"]), 12)  # every run still kept once


class RoundsAndSaturation(unittest.TestCase):
    """run.py's round order, and a maximum measured again while its server was not saturated."""

    def alternate(self, busy: dict[str, list[float]], rounds: int) -> dict:
        import run as ab_run

        def measure(t: SimpleNamespace) -> dict:
            queue = busy.get(t.name, [])
            return {"ops_per_sec": 100_000.0, "server_busy": queue.pop(0) if queue else 0.97}

        targets = [SimpleNamespace(name=t) for t in ("A", "B", "C")]
        fig = ab_run.Figure("max_a", targets, measure, lambda r: "", 0.0, rounds, ab_run.server_not_saturated)
        res = {"runs": {}, "loadavg": {}}
        ab_run.alternate(fig, res, ab_run.Clock([fig]))
        return res

    def test_every_other_round_runs_the_targets_in_reverse(self):
        kept = self.alternate({}, rounds=3)["runs"]["max_a"]
        self.assertEqual([(r["round"], r["target"]) for r in kept],
                         [(0, "A"), (0, "B"), (0, "C"), (1, "C"), (1, "B"), (1, "A"), (2, "A"), (2, "B"), (2, "C")])

    def test_an_unsaturated_maximum_is_measured_again_and_listed(self):
        res = self.alternate({"B": [0.89, 0.96]}, rounds=1)
        self.assertEqual([round(r["server_busy"], 2) for r in res["runs"]["max_a"]], [0.97, 0.96, 0.97])
        again = res["repeated"]["max_a"]
        self.assertEqual([(r["target"], r["why"]) for r in again],
                         [("B", "server busy 89.0%, under 95%: the client or the machine set this maximum")])
        text = "\n".join(report.unsaturated_note(res, "max_a"))
        self.assertIn("Measured again because the server was not saturated (1 run(s)", text)
        self.assertIn("B round 1, server busy 89.0%", text)
        self.assertEqual(report.unsaturated_note(self.alternate({}, rounds=1), "max_a"), [])


TLS_TARGETS = ["molt seg+TLS", "molt-rs+TLS", "memcached -Z"]


def handshake_run(target: str, rnd: int, kind: str, per_sec: float, busy: float = 0.98) -> dict:
    n = int(per_sec * 3)
    return {"target": target, "round": rnd, "kind": kind, "connections": 4, "handshakes_per_sec": per_sec,
            "handshakes": n, "full": n if kind == "full" else 0, "resumed": 0 if kind == "full" else n,
            "server_busy": busy, "cpu_us_per_handshake": busy * 1e6 / per_sec, "bench": ["molt-bench ..."]}


class HandshakeTable(unittest.TestCase):
    def test_rates_spreads_and_ratios_to_memcached_tls(self):
        rate = {"molt seg+TLS": 1000, "molt-rs+TLS": 800, "memcached -Z": 500}
        runs = {f"handshakes_{kind}": [handshake_run(t, r, kind, rate[t] * scale * (1 + r / 10))
                                       for r in range(3) for t in TLS_TARGETS]
                for kind, scale in (("full", 1), ("resumed", 2))}
        res = results([])
        res.update(targets={t: "cmd" for t in TARGETS + TLS_TARGETS}, tls_reference="memcached -Z", runs=runs)
        res["plan"].update(handshake_seconds=3.0, warmup=0.5)
        text = "\n".join(report.handshakes_section(res))
        self.assertIn("4 connections", text)
        # median of 1000, 1100, 1200; per-round ratio 2.0 in every round; busy 98%: 980 us CPU at 1100/s is 891
        self.assertIn("| full | molt seg+TLS | 1,100 | 1,000 - 1,200 | 2.00x | 98 | 891 | 0 | 3 |", text)
        self.assertIn("| full | molt-rs+TLS | 880 | 800 - 960 | 1.60x | 98 | 1,114 | 0 | 3 |", text)
        self.assertIn("| resumed | memcached -Z | 1,100 | 1,000 - 1,200 | 1.00x | 98 | 891 | 100 | 3 |", text)
        # plaintext targets have no handshake runs: no rows
        self.assertNotIn("| molt-c |", text)
        # a failed run leaves the others' rows, and is not counted
        runs["handshakes_full"][1] = {"target": "molt-rs+TLS", "round": 0, "error": "RuntimeError: boom"}
        text = "\n".join(report.handshakes_section(res))
        self.assertIn("| full | molt-rs+TLS | 920 | 880 - 960 | 1.60x | 98 | 1,067 | 0 | 2 |", text)


class MachineCheck(unittest.TestCase):
    def test_cpu_pressure_marks_busy_figures(self):
        res = results([])
        res["cpu_pressure"] = {"max_a": [1.0, 2.5], "load_a_50": [3.0, 31.0, None], "memory": [80.0]}
        text = " ".join(report.pressure_lines(res))
        self.assertIn("at most 31.0%", text)  # memory is not a timed figure
        self.assertIn("**The machine was busy** during load_a_50 ", text)
        res["cpu_pressure"]["load_a_50"] = [3.0]
        self.assertIn("quiet during every timed figure", " ".join(report.pressure_lines(res)))


if __name__ == "__main__":
    unittest.main()
