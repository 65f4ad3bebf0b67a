"""Medians, spreads and paired ratios over the alternating runs.

A ratio is computed per round (the target's run divided by the baseline's
run in the same round, which ran side by side with it) and the median of
those per-round ratios is reported.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Metric:
    figure: str  # key in results["runs"]
    name: str
    unit: str
    value: Callable[[dict], float | None]
    higher_is_better: bool


def _lat(p: str) -> Callable[[dict], float]:
    return lambda r: r["latency_us"][p]


METRICS = [
    Metric("throughput", "throughput", "ops/s", lambda r: r["ops_per_sec"], True),
    Metric("latency", "p50", "us", _lat("p50"), False),
    Metric("latency", "p99", "us", _lat("p99"), False),
    Metric("latency", "p999", "us", _lat("p999"), False),
    Metric("latency", "max", "us", _lat("max"), False),
    Metric("memory", "RSS loaded", "MiB", lambda r: r["rss_loaded_kib"] / 1024, False),
    Metric("memory", "RSS idle", "MiB", lambda r: r["rss_idle_kib"] / 1024, False),
    Metric("capacity", "items readable", "items", lambda r: r["readable"], True),
    Metric("capacity", "RSS after 1M writes", "MiB", lambda r: r["rss_kib"] / 1024, False),
    Metric("capacity", "items per resident MiB", "items/MiB", lambda r: r["readable"] / (r["rss_kib"] / 1024), True),
    Metric("callgrind", "Ir per request (server)", "Ir", lambda r: r["ir_per_request"], False),
    Metric("callgrind", "Ir per request (storage engine)", "Ir", lambda r: r.get("engine_ir_per_request"), False),
]


@dataclass
class Cell:
    median: float
    lo: float
    hi: float
    n: int
    vs_base: float | None
    vs_ref: float | None


def values_by_round(runs: list[dict], target: str, metric: Metric) -> dict[int, float]:
    out = {}
    for r in runs:
        if r["target"] == target and "error" not in r:
            v = metric.value(r)
            if v is not None:
                out[r["round"]] = float(v)
    return out


def paired_ratio(a: dict[int, float], b: dict[int, float]) -> float | None:
    ratios = [a[k] / b[k] for k in a if k in b and b[k]]
    return statistics.median(ratios) if ratios else None


def cell(runs: list[dict], target: str, metric: Metric, base: str, ref: str) -> Cell | None:
    mine = values_by_round(runs, target, metric)
    if not mine:
        return None
    vals = list(mine.values())
    return Cell(statistics.median(vals), min(vals), max(vals), len(vals),
                paired_ratio(mine, values_by_round(runs, base, metric)),
                paired_ratio(mine, values_by_round(runs, ref, metric)))


def table(results: dict, metric: Metric, base: str, ref: str) -> dict[str, Cell]:
    runs = results["runs"].get(metric.figure, [])
    cells = {}
    for t in results["targets"]:
        c = cell(runs, t, metric, base, ref)
        if c:
            cells[t] = c
    return cells


def median_of(results: dict, figure: str, target: str, key: Callable[[dict], float]) -> float | None:
    vals = [key(r) for r in results["runs"].get(figure, []) if r["target"] == target and "error" not in r]
    return statistics.median(vals) if vals else None
