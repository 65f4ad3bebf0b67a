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
    # Open-loop percentiles: true when the run's client was too late for the
    # figure to stand (its send lag at that percentile > 10% of it).
    client_bound: Callable[[dict], bool] | None = None
    # How to read it, when "higher/lower is better" does not apply.
    reading: str | None = None


PERCENTILES = ("p50", "p99", "p999")


def _lat(p: str) -> Callable[[dict], float]:
    return lambda r: r["latency_us"][p]


def _bound(p: str) -> Callable[[dict], bool]:
    return lambda r: (r.get("reportable_us") or {}).get(p) == "client-bound"


def is_max(figure: str) -> bool:
    return figure.startswith(("max_", "t2_max_"))


def is_load(figure: str) -> bool:
    return figure.startswith(("load_", "t2_load_"))


def is_handshakes(figure: str) -> bool:
    return figure.startswith("handshakes_")


def metrics_for(figure: str) -> list[Metric]:
    if is_handshakes(figure):
        return [Metric(figure, "handshakes per second", "handshakes/s", lambda r: r["handshakes_per_sec"], True),
                Metric(figure, "server busy", "% of one core", lambda r: 100 * r["server_busy"], True),
                Metric(figure, "server CPU per handshake", "us", lambda r: r["cpu_us_per_handshake"], False),
                Metric(figure, "resumed", "% of handshakes", lambda r: 100 * r["resumed"] / r["handshakes"], True,
                       reading="the share the server resumed: 0 when the client does not ask, near 100 when it does")]
    if is_max(figure):
        return [Metric(figure, "throughput", "ops/s", lambda r: r["ops_per_sec"], True),
                Metric(figure, "server busy", "% of one core", lambda r: 100 * r["server_busy"], True,
                       reading="90% or more: the server set the maximum; less: the client or the machine did")]
    if is_load(figure):
        return [*(Metric(figure, p, "us", _lat(p), False, _bound(p)) for p in PERCENTILES),
                Metric(figure, "server CPU per request", "us", lambda r: r["cpu_us_per_request"], False)]
    return {
        "memory": [Metric("memory", "RSS loaded", "MiB", lambda r: r["rss_loaded_kib"] / 1024, False),
                   Metric("memory", "RSS idle", "MiB", lambda r: r["rss_idle_kib"] / 1024, False)],
        "capacity": [
            Metric("capacity", "items readable", "items", lambda r: r["readable"], True),
            Metric("capacity", "RSS after the writes", "MiB", lambda r: r["rss_kib"] / 1024, False),
            Metric("capacity", "items per resident MiB", "items/MiB", lambda r: r["readable"] / (r["rss_kib"] / 1024),
                   True)],
        "large_heap": [
            Metric("large_heap", "items kept", "items", lambda r: r["items_kept"], True),
            Metric("large_heap", "RSS", "MiB", lambda r: r["rss_kib"] / 1024, False),
            Metric("large_heap", "items per resident MiB", "items/MiB",
                   lambda r: r["items_kept"] / (r["rss_kib"] / 1024), True),
            Metric("large_heap", "sets refused (out of memory)", "sets", lambda r: r.get("sets_refused", 0), False),
            Metric("large_heap", "fill time", "s", lambda r: r["fill_secs"], False),
            Metric("large_heap", "sampled gets that hit", "%", lambda r: 100 * r["sample_hit_ratio"], True)],
        "callgrind": [
            Metric("callgrind", "Ir per request (server)", "Ir", lambda r: r["ir_per_request"], False),
            Metric("callgrind", "Ir per request (storage engine)", "Ir", lambda r: r.get("engine_ir_per_request"),
                   False)],
    }.get(figure, [])


def metric(figure: str, name: str) -> Metric:
    return next(m for m in metrics_for(figure) if m.name == name)


@dataclass
class Cell:
    median: float
    lo: float
    hi: float
    n: int
    vs_base: float | None
    vs_ref: float | None
    bound: int = 0  # rounds whose client was too late for this figure to stand

    @property
    def valid(self) -> bool:
        return self.bound == 0


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
    bound = sum(1 for r in runs if r["target"] == target and "error" not in r
                and metric.client_bound and metric.client_bound(r))
    return Cell(statistics.median(vals), min(vals), max(vals), len(vals),
                paired_ratio(mine, values_by_round(runs, base, metric)),
                paired_ratio(mine, values_by_round(runs, ref, metric)), bound)


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
