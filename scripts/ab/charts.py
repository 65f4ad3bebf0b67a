"""SVG charts for the report (matplotlib, headless)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "molt-ab"  # stable ids: charts diff cleanly
import matplotlib.pyplot as plt  # noqa: E402

import summary  # noqa: E402

CHARTS = {"max": "throughput.svg", "load_a": "latency-vs-load.svg", "t2": "threads2.svg", "memory": "memory.svg",
          "callgrind": "callgrind.svg", "handshakes": "tls-handshakes.svg"}


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


def _max_bars(results: dict, out: str, figures: list[tuple[str, str]], name: str,
              metric: str = "throughput") -> None:
    present = [(f, title) for f, title in figures if results["runs"].get(f)]
    if not present:
        return
    fig, axes = plt.subplots(1, len(present), figsize=(4.6 * len(present), 3.8), squeeze=False)
    for ax, (f, title) in zip(axes[0], present):
        _bars(ax, results, summary.metric(f, metric))
        ax.set_title(title, fontsize=9)
    _save(fig, out, name)


def maxima(results: dict, out: str) -> None:
    _max_bars(results, out, [("max_a", "(a) 100 conns x 1: max ops/s"), ("max_b", "(b) pipelined: max ops/s"),
                             ("max_c", "(c) 10-key gets: max ops/s")], CHARTS["max"])


def threads2(results: dict, out: str) -> None:
    _max_bars(results, out, [("t2_max_a", "-t 2, (a): max ops/s"), ("t2_max_b", "-t 2, (b): max ops/s")],
              CHARTS["t2"])


def load_figures(results: dict, prefix: str) -> list[tuple[float, str]]:
    """(offered load fraction, figure) of the sweep, in load order."""
    rates = results.get("rates", {})
    return sorted((rates[f]["load"], f) for f in results["runs"] if f.startswith(prefix) and f in rates)


def latency_vs_load(results: dict, out: str) -> None:
    """p50, p99, p999 of workload (a) against offered load; a client-bound
    median is drawn as a grey x, not joined to the line."""
    sweep = load_figures(results, "load_a_")
    if not sweep:
        return
    base, ref = results["baseline"], results["reference"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True)
    for ax, p in zip(axes, summary.PERCENTILES):
        for t in results["targets"]:
            xs, ys, bx, by = [], [], [], []
            for load, f in sweep:
                c = summary.table(results, summary.metric(f, p), base, ref).get(t)
                if not c:
                    continue
                (xs if c.valid else bx).append(load * 100)
                (ys if c.valid else by).append(c.median)
            if xs or bx:
                line = ax.plot(xs, ys, marker="o", label=t)[0]
                if bx:
                    ax.scatter(bx, by, marker="x", color=line.get_color(), alpha=0.5)
        ax.set_yscale("log")
        ax.set_xlabel(f"offered load, % of {ref}'s maximum")
        ax.set_title(f"{p} (median of rounds; x: client-bound)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency from intended send (us, log)")
    axes[0].legend(fontsize=8)
    _save(fig, out, CHARTS["load_a"])


def memory(results: dict, out: str) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    _bars(a, results, summary.metric("memory", "RSS loaded"))
    a.set_title(f"VmRSS after {results['plan']['rss_keys']:,} keys (median, min-max)", fontsize=10)
    _bars(b, results, summary.metric("capacity", "items readable"))
    b.set_title(f"readable after {results['plan']['cap_keys']:,} writes, -m {results['plan']['memory_mb']}",
                fontsize=10)
    _save(fig, out, CHARTS["memory"])


def callgrind(results: dict, out: str) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    _bars(a, results, summary.metric("callgrind", "Ir per request (server)"), label="instructions / request")
    _bars(b, results, summary.metric("callgrind", "Ir per request (storage engine)"), label="instructions / request")
    _save(fig, out, CHARTS["callgrind"])


def handshakes(results: dict, out: str) -> None:
    _max_bars(results, out, [("handshakes_full", "TLS: full handshakes/s"),
                             ("handshakes_resumed", "TLS: resumed handshakes/s")], CHARTS["handshakes"],
              "handshakes per second")


def write_all(results: dict, out: str) -> None:
    maxima(results, out)
    threads2(results, out)
    latency_vs_load(results, out)
    handshakes(results, out)
    if results["runs"].get("memory") and results["runs"].get("capacity"):
        memory(results, out)
    if results["runs"].get("callgrind"):
        callgrind(results, out)
