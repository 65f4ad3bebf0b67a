"""target/ab/report.md from results.json (run.py calls write(); `report.py DIR` re-renders)."""

from __future__ import annotations

import json
import os
import sys

import summary
from charts import CHARTS

FIGURES = [
    ("throughput", "1. Maximum throughput",
     "Closed loop, pipelined, 90/10 get/set, {value_size} B values, {tput_keys:,} preloaded keys, every get must hit "
     "(`--expect-hits`); {tput_seconds:g} s measured after {tput_warmup:g} s warm-up; a fresh server per run."),
    ("latency", "2. Latency at a fixed rate",
     "Open loop ({lat_conns} connection(s), up to {lat_depth} in flight each), latency from the intended send time "
     "(no coordinated omission); same mix and key space as figure 1; {lat_seconds:g} s measured."),
    ("memory", "3a. Resident memory",
     "VmRSS (/proc/PID/status) of the server idle and after {rss_keys:,} keys of {value_size} B were stored "
     "(all read back and verified)."),
    ("capacity", "3b. Capacity",
     "{cap_keys:,} distinct keys of {value_size} B written into `-m {memory_mb}`, then every key asked for with "
     "multi-gets; a hit counts only when its value verifies. VmRSS is read after the read-back; items per resident "
     "MiB = items readable / RSS (what the memory buys, metadata outside `-m` included)."),
    ("callgrind", "4. Instructions per request (callgrind)",
     "Server under `valgrind --tool=callgrind`; {cg_keys:,} keys preloaded, counters zeroed, then exactly "
     "{cg_requests:,} requests (90/10, {cg_conns} connections x {cg_depth} pipelined), counters dumped. "
     "User-space instructions only (the kernel's socket work is not counted). *Storage engine* = inclusive cost "
     "of the storage.h entry points the protocol calls (`molt_storage_*`) minus the core's value sink "
     "(`write_value`), i.e. slab_* or seg_*/molt_seg_*/seg:: plus their locks and copies."),
]


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    if unit == "MiB":
        return f"{v:,.1f}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def metric_table(results: dict, m: summary.Metric) -> list[str]:
    base, ref = results["baseline"], results["reference"]
    cells = summary.table(results, m, base, ref)
    if not cells:
        return []
    better = "higher" if m.higher_is_better else "lower"
    lines = [f"**{m.name}** ({m.unit}; {better} is better)", "",
             f"| target | median | spread (min-max) | vs {base} | vs {ref} | runs |", "|---|---:|---:|---:|---:|---:|"]
    for t, c in cells.items():
        lines.append(f"| {t} | {fmt(c.median, m.unit)} | {fmt(c.lo, m.unit)} - {fmt(c.hi, m.unit)} | "
                     f"{ratio(c.vs_base)} | {ratio(c.vs_ref)} | {c.n} |")
    return lines + [""]


def commands(results: dict, figure: str) -> list[str]:
    first = next((r for r in results["runs"].get(figure, []) if "error" not in r), None)
    if not first:
        return []
    cmd = first.get("bench") or first.get("client")
    cmds = cmd if isinstance(cmd, list) else [cmd]
    return ["Client:", "", "```", *cmds, "```", ""]


def send_lag(results: dict) -> list[str]:
    rows, late = [], []
    for t in results["targets"]:
        lag = summary.median_of(results, "latency", t, lambda r: (r.get("send_lag_us") or {}).get("p99", 0))
        got = summary.median_of(results, "latency", t, lambda r: r["ops_per_sec"])
        p99 = summary.median_of(results, "latency", t, lambda r: r["latency_us"]["p99"])
        if lag is None:
            continue
        rows.append(f"| {t} | {got:,.0f} | {lag:,.0f} |")
        if p99 and lag >= 0.5 * p99:
            late.append(t)
    if not rows:
        return []
    verdict = ([f"**Caution:** for {', '.join(late)} the send lag is at least half of p99: the tail was set by a "
                "late client (or a busy machine delaying it), not only by the server. Read the tail columns as an "
                "upper bound; p50 and the callgrind figures are the reliable comparisons.", ""] if late else [])
    return ["Client check: achieved rate and the client's own send lag (actual minus intended send time, part of "
            "every latency above). A send lag close to the latency means the client, not the server, was late.", "",
            "| target | achieved req/s (median) | send lag p99 us (median) |", "|---|---:|---:|", *rows, "",
            *verdict]


def top_functions(results: dict) -> list[str]:
    out = []
    for t in results["targets"]:
        run = next((r for r in results["runs"].get("callgrind", []) if r["target"] == t and "error" not in r), None)
        if not run or "engine_ir" not in run:  # memcached: a stripped binary, no function names
            continue
        n = run["requests"]
        out += [f"<details><summary>{t}: top functions (first run, Ir per request)</summary>", "",
                "| inclusive | function | | self | function |", "|---:|---|---|---:|---|"]
        for (ii, fi), (si, fs) in zip(run["top_inclusive"], run["top_self"]):
            out.append(f"| {ii / n:,.0f} | `{fi}` | | {si / n:,.0f} | `{fs}` |")
        out += ["", "</details>", ""]
    return out


def headline(results: dict) -> list[str]:
    base, ref = results["baseline"], results["reference"]
    picks = [("throughput", "throughput"), ("p999", "p999 latency"), ("RSS loaded", "RSS loaded"),
             ("items readable", "capacity"), ("Ir per request (server)", "Ir/request"),
             ("Ir per request (storage engine)", "engine Ir/request")]
    head = "| | " + " | ".join(label for _, label in picks) + " |"
    lines = ["## Headline (medians; ratios are medians of per-round ratios)", "", head,
             "|---|" + "---:|" * len(picks)]
    tables = {m.name: summary.table(results, m, base, ref) for m in summary.METRICS}
    units = {m.name: m.unit for m in summary.METRICS}
    for t in results["targets"]:
        row = []
        for name, _ in picks:
            c = tables[name].get(t)
            row.append("-" if not c else f"{fmt(c.median, units[name])} {units[name]}"
                       + ("" if t in (base, ref) else f" ({ratio(c.vs_base)} {base}, {ratio(c.vs_ref)} {ref})"))
        lines.append(f"| {t} | " + " | ".join(row) + " |")
    return lines + [""]


def render(results: dict) -> str:
    p = results["plan"]
    m = results["machine"]
    out = [f"# molt A/B: molt-c, molt (slab, seg), memcached 1.6 ({p['mode']} mode)", "",
           f"Run {results['started']} - {results.get('finished', '?')} "
           f"({results.get('elapsed_seconds', 0) / 60:.1f} min; estimated {results['estimate_seconds'] / 60:.0f} min). "
           f"Produced by `make ab{' QUICK=1' if p['mode'] == 'quick' else ''}` (scripts/ab/run.py); "
           "raw runs in results.json.", "",
           f"Binaries: built from {results.get('source', '?')}; copied to target/ab/bin before the first run "
           "(so a rebuild during the run cannot change them).", "",
           f"Every figure is the median of {p['runs']} alternating rounds (each round runs every target once, "
           "in order, a fresh server each time); spread is min-max over the rounds; a ratio is computed per round "
           "against the baseline's run in the same round, and the median ratio is shown. Servers run with "
           f"`-t {p['threads']} -m {p['memory_mb']}` pinned to CPU 0 (`taskset -c 0`), the client on CPU 1, "
           "on a free 127.0.0.1 port, and are stopped by PID.", ""]
    out += headline(results)
    out += ["## Machine", "", "| | |", "|---|---|",
            f"| nproc | {m['nproc']} |", f"| CPU | {m['cpu']} |", f"| kernel | {m['kernel']} |",
            f"| memory | {m['memory']} |", f"| python | {m['python']} |"]
    out += [f"| {k} | `{v}` |" for k, v in m["versions"].items()]
    load = ", ".join(f"{fig} {v['start']} -> {v.get('end', '?')}" for fig, v in results["loadavg"].items())
    out += ["", f"Load average (1/5/15 min) at the start and end of each figure: {load}. The machine is shared: "
            "other processes add noise to the timed figures (1, 2); figures 3 and 4 do not depend on timing.", ""]
    out += ["## Targets", "", "| target | server command |", "|---|---|"]
    out += [f"| {t} | `{cmd}` |" for t, cmd in results["targets"].items()]
    out += [f"| {t} | skipped: {why} |" for t, why in results["skipped"].items()]
    out += [""]
    for fig, title, text in FIGURES:
        if not results["runs"].get(fig):
            continue
        out += [f"## {title}", "", text.format(**p), ""]
        if fig == "latency":
            lr = results["latency_rate"]
            out += [f"Rate: {lr['rate']:,} requests/s ({lr['why']}).", ""]
        chart = CHARTS.get(fig)
        if chart:
            out += [f"![{fig}]({chart})", ""]
        for metric in summary.METRICS:
            if metric.figure == fig:
                out += metric_table(results, metric)
        if fig == "latency":
            out += send_lag(results)
        if fig == "callgrind":
            out += top_functions(results)
        out += commands(results, fig)
    failed = [r for runs in results["runs"].values() for r in runs if "error" in r]
    if failed:
        out += ["## Failed runs", ""] + [f"- round {r['round'] + 1}, {r['target']}: {r['error']}" for r in failed] + [""]
    return "\n".join(out)


def write(results: dict, out_dir: str) -> str:
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write(render(results))
    return path


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else "target/ab"
    print(write(json.load(open(os.path.join(d, "results.json"))), d))
