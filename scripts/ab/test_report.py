"""`make ab-selftest`: the report's rules on made-up runs (no server, no timing).

Checks what a reader of report.md sees: a latency percentile is a number
only when no round was client-bound, the validity check of issue 12 (p999 of
workload (a) at 50% load: valid in every round, max/min <= 2x), the server
CPU table and the closing note's ratios.
"""

from __future__ import annotations

import unittest

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
