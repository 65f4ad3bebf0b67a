"""SVG charts for the report (matplotlib, headless)."""

from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "molt-ab"  # stable ids: charts diff cleanly
import matplotlib.pyplot as plt  # noqa: E402

import summary  # noqa: E402

PERCENTILES = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("max", None)]
CHARTS = {"throughput": "throughput.svg", "latency": "latency.svg", "memory": "memory.svg",
          "callgrind": "callgrind.svg"}


def _metric(name: str) -> summary.Metric:
    return next(m for m in summary.METRICS if m.name == name)


def _save(fig, out: str, name: str) -> None:
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), format="svg", metadata={"Date": None})
    plt.close(fig)


def _bars(ax, results: dict, metric: summary.Metric, scale: float = 1.0, label: str | None = None) -> None:
    cells = summary.table(results, metric, results["baseline"], results["reference"])
    names = list(cells)
    med = [cells[n].median * scale for n in names]
    err = [[(cells[n].median - cells[n].lo) * scale for n in names],
           [(cells[n].hi - cells[n].median) * scale for n in names]]
    ax.bar(names, med, yerr=err, capsize=4, color="#4c78a8", ecolor="#333")
    for i, v in enumerate(med):
        ax.annotate(f"{v:,.0f}" if v >= 100 else f"{v:,.1f}", (i, v), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_ylabel(label or f"{metric.name} ({metric.unit})")
    ax.set_title(f"{metric.name} (median, min-max)", fontsize=10)
    ax.tick_params(axis="x", labelrotation=15, labelsize=8)


def throughput(results: dict, out: str) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    _bars(ax, results, _metric("throughput"))
    _save(fig, out, CHARTS["throughput"])


def latency(results: dict, out: str) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    xs = [-math.log10(1 - p) if p else 4.0 for _, p in PERCENTILES]
    for t in results["targets"]:
        ys = [summary.median_of(results, "latency", t, lambda r, k=k: r["latency_us"][k]) for k, _ in PERCENTILES]
        if None not in ys:
            ax.plot(xs, ys, marker="o", label=t)
    ax.set_xticks(xs, [k for k, _ in PERCENTILES])
    ax.set_yscale("log")
    ax.set_ylabel("latency (us, log)")
    rate = results.get("latency_rate", {}).get("rate", 0)
    ax.set_title(f"open loop at {rate:,} req/s: median of runs per percentile", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, out, CHARTS["latency"])


def memory(results: dict, out: str) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    _bars(a, results, _metric("RSS loaded"))
    a.set_title(f"VmRSS after {results['plan']['rss_keys']:,} keys (median, min-max)", fontsize=10)
    _bars(b, results, _metric("items readable"))
    b.set_title(f"readable after {results['plan']['cap_keys']:,} writes, -m {results['plan']['memory_mb']}",
                fontsize=10)
    _save(fig, out, CHARTS["memory"])


def callgrind(results: dict, out: str) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    _bars(a, results, _metric("Ir per request (server)"), label="instructions / request")
    _bars(b, results, _metric("Ir per request (storage engine)"), label="instructions / request")
    _save(fig, out, CHARTS["callgrind"])


def write_all(results: dict, out: str) -> None:
    for figure, draw in (("throughput", throughput), ("latency", latency), ("memory", memory),
                         ("callgrind", callgrind)):
        if results["runs"].get(figure):
            draw(results, out)
