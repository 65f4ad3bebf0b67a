"""target/ab/report.md from results.json (run.py calls write(); `report.py DIR` re-renders)."""

from __future__ import annotations

import json
import os
import sys

import summary
from charts import CHARTS, load_figures
from workloads import WORKLOADS

# The rule every latency figure obeys: shown as a number only when, in every
# round, the client's send lag at that percentile was at most 10% of it.
MAX_SPREAD = 2.0  # done-when: p999 of workload (a) at 50% load, max/min over rounds

TIMED_METHOD = (
    "Every timed run starts a fresh server, preloads {keys:,} keys of {value_size} B with a separate molt-bench "
    "run, then measures: 90/10 get/set, every get must hit (`--expect-hits`), every value verified, "
    "{warmup:g} s warm-up. Plaintext targets are driven by `molt-bench --one-thread` (every connection on one "
    "thread and one epoll loop: the client never preempts itself), pinned to CPU 1 with the server on CPU 0. "
    "Open-loop runs send at Poisson-distributed intended times and measure latency from the intended time (no "
    "coordinated omission). TLS targets use the threaded client (`--one-thread` speaks plain TCP) and appear in "
    "workload (b) only.")

CLIENT_BOUND_RULE = (
    "A latency percentile is printed only when, in every round, the client's own send lag at that percentile "
    "(actual minus intended send time, net of waits for a full window, which are the server's) was at most 10% "
    "of it; otherwise the cell says **client-bound** and the number is not a property of the server.")


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    if unit == "MiB":
        return f"{v:,.1f}"
    return f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.2f}"


def ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def shown(c: summary.Cell | None, unit: str = "") -> str:
    """A median, or client-bound (with how many rounds were)."""
    if c is None:
        return "-"
    if not c.valid:
        return f"client-bound ({c.bound}/{c.n})"
    return fmt(c.median, unit)


def cells(results: dict, figure: str, name: str) -> dict[str, summary.Cell]:
    return summary.table(results, summary.metric(figure, name), results["baseline"], results["reference"])


def metric_table(results: dict, m: summary.Metric) -> list[str]:
    base, ref = results["baseline"], results["reference"]
    cs = summary.table(results, m, base, ref)
    if not cs:
        return []
    reading = m.reading or f"{'higher' if m.higher_is_better else 'lower'} is better"
    lines = [f"**{m.name}** ({m.unit}; {reading})", "",
             f"| target | median | spread (min-max) | vs {base} | vs {ref} | runs |", "|---|---:|---:|---:|---:|---:|"]
    for t, c in cs.items():
        bad = not c.valid
        lines.append(f"| {t} | {shown(c, m.unit)} | {fmt(c.lo, m.unit)} - {fmt(c.hi, m.unit)} | "
                     f"{'-' if bad else ratio(c.vs_base)} | {'-' if bad else ratio(c.vs_ref)} | {c.n} |")
    return lines + [""]


def figure_tables(results: dict, figure: str) -> list[str]:
    """Every metric table of a figure, then its client commands."""
    out = []
    for m in summary.metrics_for(figure):
        out += metric_table(results, m)
    return out + commands(results, figure)


def commands(results: dict, figure: str) -> list[str]:
    first = next((r for r in results["runs"].get(figure, []) if "error" not in r), None)
    if not first:
        return []
    cmd = first.get("bench") or first.get("client")
    cmds = cmd if isinstance(cmd, list) else [cmd]
    return ["<details><summary>Client commands</summary>", "", "```", *cmds, "```", "", "</details>", ""]


def rate_line(results: dict, figure: str) -> list[str]:
    r = results.get("rates", {}).get(figure)
    return [f"Offered: {r['rate']:,} requests/s ({r['why']}).", ""] if r else []


def lag_table(results: dict, figure: str) -> list[str]:
    """The send lag beside latency: medians over rounds, per percentile."""
    rows = []
    for t in results["targets"]:
        runs = [r for r in results["runs"].get(figure, []) if r["target"] == t and "error" not in r
                and r.get("send_lag_us")]
        if not runs:
            continue
        med = {p: summary.median_of(results, figure, t, lambda r, p=p: (r.get("send_lag_us") or {}).get(p, 0))
               for p in summary.PERCENTILES}
        got = summary.median_of(results, figure, t, lambda r: r["ops_per_sec"])
        rows.append(f"| {t} | {got:,.0f} | " + " | ".join(f"{med[p]:,.0f}" for p in summary.PERCENTILES) + " |")
    if not rows:
        return []
    return ["Send lag (the client's own lateness, part of every latency above), medians over rounds:", "",
            "| target | achieved req/s | lag p50 us | lag p99 us | lag p999 us |", "|---|---:|---:|---:|---:|",
            *rows, ""]


def top_functions(results: dict) -> list[str]:
    out = []
    for t in results["targets"]:
        run = next((r for r in results["runs"].get("callgrind", []) if r["target"] == t and "error" not in r), None)
        if not run or t == results.get("reference"):  # memcached: a stripped binary, no function names
            continue
        n = run["requests"]
        out += [f"<details><summary>{t}: top functions (first run, Ir per request)</summary>", "",
                "| inclusive | function | | self | function |", "|---:|---|---|---:|---|"]
        for (ii, fi), (si, fs) in zip(run["top_inclusive"], run["top_self"]):
            out.append(f"| {ii / n:,.0f} | `{fi}` | | {si / n:,.0f} | `{fs}` |")
        out += ["", "</details>", ""]
    return out


def maxima_section(results: dict) -> list[str]:
    figs = [f for f in ("max_a", "max_b", "max_c") if results["runs"].get(f)]
    if not figs:
        return []
    p = results["plan"]
    out = ["## 1. Maximum throughput, workloads (a), (b), (c)", "",
           f"Closed loop (each connection sends its next request when a reply frees a slot), {p['tput_seconds']:g} s "
           "measured. *Server busy* is the server's CPU time over the run's wall time (1 core = 100%).", "",
           f"![maxima]({CHARTS['max']})", ""]
    for f in figs:
        out += [f"### {WORKLOADS[f[-1]].title}", ""]
        out += figure_tables(results, f) + unsaturated_note(results, f)
    busy = {f: cells(results, f, "server busy") for f in figs}
    low = sorted({f"{t} in {f}" for f, cs in busy.items() for t, c in cs.items() if c.median < 90})
    out += ["**What this can and cannot say here.** A maximum is the server's only when the server was busy "
            "(about 100% of its core); a full run measures a run again when its server was under 95% busy. "
            + (f"Below 90% busy: {', '.join(low)}: there the client (one thread on the other core) or the machine "
               "set the limit, and the figure is a lower bound for that server. " if low else
               "Every server was at least 90% busy: the maxima are the servers'. ")
            + "With one server core, these are single-core figures; they say nothing about scaling.", ""]
    return out + memcached_pipelining_note(results)


def unsaturated_note(results: dict, figure: str) -> list[str]:
    note = repeats_note(results, figure, "the server was not saturated", "server busy under 95%, so the client or "
                        "the machine set that maximum")
    return note[1:] + [""] if note else []


def memcached_pipelining_note(results: dict) -> list[str]:
    """Why memcached gains almost nothing from pipelining, said only when the
    figures show it ((b) under twice (a)), so the note cannot outlive the cause."""
    ref = results["reference"]
    a, b = cells(results, "max_a", "throughput").get(ref), cells(results, "max_b", "throughput").get(ref)
    if not a or not b or b.median >= 2 * a.median:
        return []
    return [f"**Why {ref} barely gains from pipelining ({fmt(b.median)} vs {fmt(a.median)} ops/s).** "
            "memcached 1.6.18 ends every `get` with a flush of its responses (`process_get_command` in "
            "proto_text.c sets `conn_mwrite`), so a pipelined batch of gets costs one `sendmsg` system call per "
            "request: `strace -c` on memcached while a client sends 16 gets per write counts 1,601 `sendmsg` for "
            "1,600 gets and one set (and 103 reads). molt writes the replies to everything it parsed from one read with one "
            "write. The difference is in system calls, which callgrind does not count: it explains why "
            f"{ref}'s Ir per request (section 8) is about twice molt's while its pipelined maximum is about a "
            "tenth.", ""]


def sweep_section(results: dict) -> list[str]:
    sweep = load_figures(results, "load_a_")
    if not sweep:
        return []
    base, ref = results["baseline"], results["reference"]
    p = results["plan"]
    out = ["## 2. Latency against offered load, workload (a)", "",
           f"{WORKLOADS['a'].title}; open loop, Poisson arrivals, at "
           + ", ".join(f"{load:.0%}" for load, _ in sweep)
           + f" of {ref}'s maximum in figure 1 (a); {p['lat_seconds']:g} s measured per run. {CLIENT_BOUND_RULE}",
           "", f"![latency against load]({CHARTS['load_a']})", "",
           "| load | req/s | target | p50 us | p99 us | p999 us | p999 spread (max/min) | CPU us/req |",
           "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for load, f in sweep:
        rate = results["rates"][f]["rate"]
        pc = {q: cells(results, f, q) for q in summary.PERCENTILES}
        cpu = cells(results, f, "server CPU per request")
        for t in results["targets"]:
            c999 = pc["p999"].get(t)
            if not c999:
                continue
            spread = f"{c999.hi / c999.lo:.2f}" if c999.lo else "-"
            out.append(f"| {load:.0%} | {rate:,} | {t} | " + " | ".join(shown(pc[q].get(t)) for q in summary.PERCENTILES)
                       + f" | {spread} | {fmt(cpu[t].median) if t in cpu else '-'} |")
    out += [""]
    main = f"load_a_{round(p['main_load'] * 100)}"
    out += check_section(results, main)
    out += lag_table(results, main)
    out += commands(results, main)
    out += ["**What this can and cannot say here.** The curve's shape (where the tail turns up) and the p50 "
            "ratios are robust on two cores. A p999 is a 1-in-1000 event: per run it rests on a few dozen samples "
            "at the low loads, and a preempted server thread (other work on CPU 0) moves it; read it with its "
            "spread. Ratios between targets are per round (same minute, same machine state). " + CLIENT_BOUND_RULE,
            ""]
    return out


def repeats_note(results: dict, figure: str, because: str, rule: str) -> list[str]:
    """The runs of `figure` that run.py measured again, and why (none: no note)."""
    again = results.get("repeated", {}).get(figure, [])
    if not again:
        return []
    return ["", f"Measured again because {because} ({len(again)} run(s): {rule}; at most 2 repeats each and 12 per "
            "figure; the last attempt stands, the attempts listed here enter no figure): "
            + "; ".join(f"{r['target']} round {r['round'] + 1}, {r['why']}" for r in again) + "."]


def threads_note(results: dict, figure: str) -> list[str]:
    """The runs in which more than one server thread used CPU, thread by thread: a
    bad round of a multi-threaded server shows whether a thread beside the
    one serving ran during it (all the server's threads share CPU 0)."""
    runs = [r for r in results["runs"].get(figure, []) if len(r.get("thread_cpu_s") or {}) > 1]
    if not runs:
        return []
    def threads(r: dict) -> str:
        return ", ".join(f"{name} {s:.2f}" for name, s in sorted(r["thread_cpu_s"].items(), key=lambda kv: -kv[1]))
    return ["", "Server CPU seconds by thread, in the runs where more than one thread ran: "
            + "; ".join(f"{r['target']} round {r['round'] + 1} (p999 {r['latency_us']['p999']:,} us): {threads(r)}"
                        for r in runs) + "."]


def check_section(results: dict, figure: str) -> list[str]:
    """Done-when: workload (a) at 50% load, a valid p999 for every target, spread <= 2x."""
    c999 = cells(results, figure, "p999")
    if not c999:
        return []
    rows, ok = [], True
    for t, c in c999.items():
        spread = c.hi / c.lo if c.lo else float("inf")
        good = c.valid and spread <= MAX_SPREAD and c.n >= 2
        ok &= good
        rows.append(f"| {t} | {shown(c)} | {spread:.2f} | {c.n - c.bound}/{c.n} | {'yes' if good else 'NO'} |")
    rows += repeats_note(results, figure, "the client was late", "its p999 the client's, or the client's own "
                         "send lag at p999 over 250 us, a machine stall that stalls the server too")
    rows += threads_note(results, figure)
    verdict = ("**Valid:** every target's p999 at this load stands (client never the cause) and varies at most "
               f"{MAX_SPREAD:g}x across rounds." if ok else
               "**Not valid on this run:** some p999 is client-bound or varies more than "
               f"{MAX_SPREAD:g}x across rounds (a busy machine, or too few rounds): do not quote it.")
    return [f"Validity check, {figure} (p999):", "",
            "| target | p999 us | max/min over rounds | rounds not client-bound | valid |", "|---|---:|---:|---:|---|",
            *rows, "", verdict, ""]


LATENCY_NOTES = {
    "load_b": "With up to 16 requests in flight per connection, a request waits for the ones ahead of it: the "
              "latency is mostly queueing inside the connection, so it follows each server's cost per request "
              "times the depth more than its response to a single request. TLS targets are driven by the threaded "
              "client, whose own lag is larger; the same rule judges them.",
    "load_c": "A 10-key get is ten lookups and a reply about ten times larger: this weighs the per-key cost "
              "(storage engine, value copy) more than workload (a) does. Same validity rule as figure 2; read p99 "
              "and p999 with their spread.",
}


def latency_section(results: dict, n: int, figure: str, title: str) -> list[str]:
    if not results["runs"].get(figure):
        return []
    out = [f"## {n}. Latency at {results['rates'].get(figure, {}).get('load', 0.5):.0%} load, {title}", "",
           *rate_line(results, figure), CLIENT_BOUND_RULE, ""]
    for m in summary.metrics_for(figure):
        out += metric_table(results, m)
    out += lag_table(results, figure)
    out += commands(results, figure)
    return out + [f"**What this can and cannot say here.** {LATENCY_NOTES[figure]}", ""]


def cpu_section(results: dict) -> list[str]:
    d1, pipe = cells(results, "load_a_50", "server CPU per request"), cells(results, "load_b", "server CPU per request")
    ir = cells(results, "callgrind", "Ir per request (server)") if results["runs"].get("callgrind") else {}
    if not d1 and not pipe:
        return []
    p = results["plan"]
    out = ["## 5. Server CPU per request", "",
           "User + system CPU seconds of the server process (all threads; /proc/PID/stat utime + stime) over the "
           "measured run (warm-up included; the preload is a separate run), divided by the replies of that run, "
           "in seconds per million requests (= microseconds per request). Depth 1: workload (a) at 50% load; "
           "pipelined: workload (b) at 50% load. Instructions per request (callgrind, user space only, "
           f"{p['cg_conns']} connections x {p['cg_depth']} pipelined) beside them.", "",
           "| target | depth 1: s per M requests | pipelined: s per M requests | Ir per request (pipelined) |",
           "|---|---:|---:|---:|"]
    for t in results["targets"]:
        if t not in d1 and t not in pipe:
            continue
        row = [f"{fmt(c.median)} ({fmt(c.lo)}-{fmt(c.hi)})" if c else "-" for c in (d1.get(t), pipe.get(t))]
        out.append(f"| {t} | {row[0]} | {row[1]} | {fmt(ir[t].median) if t in ir else '-'} |")
    out += ["", "**What this can and cannot say here.** CPU time is counted by the kernel in 10 ms ticks, "
            "attributed to whoever runs when the tick fires; over a few seconds of runs that is a percent or two. "
            "It includes the kernel's socket work, which callgrind does not see: at depth 1 both are dominated by "
            "one read and one write system call per request (syscall-bound), so CPU per request differs little "
            "between servers there, and the instruction counts are the better comparison of the code itself.", ""]
    return out


def threads2_section(results: dict) -> list[str]:
    figs = [f for f in ("t2_max_a", "t2_max_b", "t2_load_a") if results["runs"].get(f)]
    if not figs:
        return []
    out = ["## 6. Two worker threads (`-t 2`)", "",
           "Every server with `-t 2`, still pinned to CPU 0 (the client has CPU 1): two workers share one core.",
           "", f"![-t 2]({CHARTS['t2']})", ""]
    for f in figs:
        name = {"t2_max_a": "maximum, workload (a)", "t2_max_b": "maximum, workload (b)",
                "t2_load_a": "latency at 50% load, workload (a)"}[f]
        out += [f"### -t 2, {name}", "", *rate_line(results, f)]
        out += figure_tables(results, f) + unsaturated_note(results, f)
    out += ["**What this can and cannot say here.** With both workers on one core, this measures what a second "
            "thread costs (locking, hand-offs, cache sharing), not how a server scales: on two cores of their own "
            "the figures would differ, and this machine has no third core for the client. As in figure 1, a maximum "
            "with the server under 90% busy was set by the client or the machine: a lower bound.", ""]
    return out


def memory_section(results: dict) -> list[str]:
    p = results["plan"]
    out = []
    if results["runs"].get("memory"):
        out += ["## 7a. Resident memory", "",
                f"VmRSS (/proc/PID/status) of the server idle and after {p['rss_keys']:,} keys of {p['value_size']} B "
                "were stored (all read back and verified).", "", f"![memory]({CHARTS['memory']})", ""]
        out += figure_tables(results, "memory")
    if results["runs"].get("capacity"):
        out += ["## 7b. Capacity", "",
                f"{p['cap_keys']:,} distinct keys of {p['value_size']} B written into `-m {p['memory_mb']}`, then every "
                "key asked for with multi-gets; a hit counts only when its value verifies. Items per resident MiB = "
                "items readable / RSS.", ""]
        out += figure_tables(results, "capacity")
    if out:
        out += ["**What this can and cannot say here.** Resident memory and items readable do not depend on "
                "timing: they hold on a busy machine.", ""]
    if results["runs"].get("large_heap"):
        out += ["## 7c. Large heap", "",
                f"`-m {p['large_memory_mb']}`, {p['large_keys']:,} keys of {p['value_size']} B stored once each "
                "(molt-bench preload: 4 connections, pipelined sets, every reply STORED or, counted as *sets refused*, "
                "`SERVER_ERROR out of memory storing object`); fill time is that "
                "preload's wall time; items kept = `curr_items`; then 10-key multi-gets over the whole key space "
                "(every value verified) give the share of sampled keys that hit. One round.", ""]
        out += figure_tables(results, "large_heap")
        out += ["**What this can and cannot say here.** Items kept and RSS do not depend on timing. Fill time "
                "is a wall time of a pipelined client on the other core: a comparison between servers in the same "
                "run, not an absolute rate.", ""]
    return out


def callgrind_section(results: dict) -> list[str]:
    if not results["runs"].get("callgrind"):
        return []
    p = results["plan"]
    out = ["## 8. Instructions per request (callgrind)", "",
           f"Server under `valgrind --tool=callgrind`; {p['cg_keys']:,} keys preloaded, counters zeroed, then exactly "
           f"{p['cg_requests']:,} requests (90/10, {p['cg_conns']} connections x {p['cg_depth']} pipelined), counters "
           "dumped. User-space instructions only. *Storage engine* = inclusive cost of the storage.h entry points "
           "the protocol calls (`molt_storage_*`) minus the core's value sink (`write_value`), for the targets running "
           "the C protocol (the seam where that boundary is defined; a function listed under two spellings of its "
           "file's path counts once).", "",
           f"![callgrind]({CHARTS['callgrind']})", ""]
    for m in summary.metrics_for("callgrind"):
        out += metric_table(results, m)
    out += top_functions(results)
    out += commands(results, "callgrind")
    out += ["**What this can and cannot say here.** Instruction counts do not depend on the machine's load: "
            "they are the repeatable comparison of the code.", ""]
    return out


HANDSHAKE_FIGURES = (("handshakes_full", "full"), ("handshakes_resumed", "resumed"))


def handshakes_section(results: dict) -> list[str]:
    """Handshakes per second, full and resumed, against the TLS reference."""
    figs = [(f, kind) for f, kind in HANDSHAKE_FIGURES if results["runs"].get(f)]
    if not figs:
        return []
    ref = results.get("tls_reference", "memcached -Z")
    p = results["plan"]
    first = next((r for f, _ in figs for r in results["runs"][f] if "error" not in r), {})
    out = ["## 9. TLS handshakes", "",
           f"`molt-bench --handshake-bench`: {first.get('connections', '?')} connections, each connecting, "
           "handshaking, sending `version`, reading its reply and closing, over and over, for "
           f"{p['handshake_seconds']:g} s after {p['warmup']:g} s of warm-up, on a fresh server (EC P-256 "
           "test certificate). *full*: the client never resumes (`--tls-resume=off`); *resumed*: it offers the "
           "ticket of its previous connection (`--tls-resume=on`), and *resumed* below is the share of the "
           f"run's handshakes the server did resume. Ratios are per round against {ref}'s run in the same round. "
           "*Server busy* is the server's CPU time over the run's wall time; CPU per handshake divides it by "
           "the handshakes of the run (the warm-up's estimated at the measured rate).", "",
           f"![handshakes]({CHARTS['handshakes']})", "",
           f"| handshakes | target | per second | spread (min-max) | vs {ref} | server busy % | "
           "server CPU us per handshake | resumed % | runs |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for f, kind in figs:
        ms = summary.metrics_for(f)
        rate, busy, cpu, resumed = (summary.table(results, m, ref, ref) for m in ms)
        for t, c in rate.items():
            extra = [f"{x[t].median:{form}}" if t in x else "-" for x, form in ((busy, ".0f"), (cpu, ",.0f"),
                                                                                 (resumed, ".0f"))]
            out.append(f"| {kind} | {t} | {fmt(c.median)} | {fmt(c.lo)} - {fmt(c.hi)} | {ratio(c.vs_ref)} | "
                       + " | ".join(extra) + f" | {c.n} |")
    out += [""] + commands(results, figs[0][0])
    out += ["**What this can and cannot say here.** The client, on the other core, does its half of every "
            "handshake (key exchange; on a full one also the certificate check): with the server under 90% busy, "
            "the client or the machine set the rate, which is then a lower bound for that server, and the server "
            "CPU per handshake is the comparison that holds.", ""]
    return out


def headline(results: dict) -> list[str]:
    cols = [("max_a", "throughput", "max (a) ops/s"), ("max_b", "throughput", "max (b) ops/s"),
            ("load_a_50", "p999", "p999 (a) 50% us"), ("load_a_50", "server CPU per request", "CPU us/req depth 1"),
            ("load_b", "server CPU per request", "CPU us/req pipelined"), ("memory", "RSS loaded", "RSS loaded MiB"),
            ("callgrind", "Ir per request (server)", "Ir/request")]
    cols = [c for c in cols if results["runs"].get(c[0])]
    if not cols:
        return []
    tables = {(f, n): cells(results, f, n) for f, n, _ in cols}
    lines = ["## Headline (medians over rounds)", "", "| | " + " | ".join(label for _, _, label in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for t in results["targets"]:
        row = [shown(tables[(f, n)].get(t)) for f, n, _ in cols]
        if any(x != "-" for x in row):
            lines.append(f"| {t} | " + " | ".join(row) + " |")
    return lines + [""]


def closing_note(results: dict) -> list[str]:
    """p50/p99/p999 ratios at workload (a), 50% load: molt/memcached and molt seg/molt-c."""
    main = f"load_a_{round(results['plan']['main_load'] * 100)}"
    if not results["runs"].get(main):
        return []
    base, ref = results["baseline"], results["reference"]
    pc = {q: cells(results, main, q) for q in summary.PERCENTILES}
    rows = []

    def row(t: str, against: str, attr: str) -> None:
        if t not in pc["p50"]:
            return
        vals = []
        for q in summary.PERCENTILES:
            c, other = pc[q].get(t), pc[q].get(against)
            vals.append("client-bound" if not c or not other or not c.valid or not other.valid
                        else ratio(getattr(c, attr)))
        rows.append(f"| {t} / {against} | " + " | ".join(vals) + " |")

    for t in results["targets"]:
        if t != ref and t in pc["p50"]:  # the plaintext targets (workload (a) has no TLS runs)
            row(t, ref, "vs_ref")
    if "molt seg" in results["targets"]:
        row("molt seg", base, "vs_base")
    mode = " QUICK=1" if results["plan"]["mode"] == "quick" else ""
    return ["## Closing note: latency ratios, workload (a) at 50% load", "",
            "Medians of per-round ratios (each round's runs are minutes apart at most); below 1.00x is faster. "
            "A ratio is shown only when both sides' percentile stands (see figure 2).", "",
            "| ratio | p50 | p99 | p999 |", "|---|---:|---:|---:|", *rows, "",
            f"Command: `make ab{mode}` (scripts/ab/run.py), figure `{main}` in results.json.", ""]


BUSY_PRESSURE = 10.0  # % of time some task waited for a CPU: above this the machine was not quiet


def pressure_lines(results: dict) -> list[str]:
    """Was the machine quiet? CPU pressure (PSI) after each run of the timed figures."""
    timed = {f: [v for v in vals if v is not None] for f, vals in results.get("cpu_pressure", {}).items()
             if summary.is_max(f) or summary.is_load(f) or summary.is_handshakes(f)}
    timed = {f: v for f, v in timed.items() if v}
    if not timed:
        return []
    worst = max(max(v) for v in timed.values())
    busy = sorted(f for f, v in timed.items() if max(v) > BUSY_PRESSURE)
    verdict = (f"**The machine was busy** during {', '.join(busy)} (some task waited for a CPU more than "
               f"{BUSY_PRESSURE:g}% of the time): those timed figures are disturbed, whatever their spread."
               if busy else "The machine was quiet during every timed figure.")
    return [f"CPU pressure (/proc/pressure/cpu, some avg10, after each timed run): at most {worst:.1f}%. {verdict}",
            ""]


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
           "in order, the order reversed every other round, a fresh server each time; the large heap: one round); spread is min-max over the rounds; a "
           "ratio is computed per round against the baseline's run in the same round, and the median ratio is "
           f"shown. Servers run with `-t {p['threads']} -m {p['memory_mb']}` (unless said otherwise) pinned to CPU 0 "
           "(`taskset -c 0`), the client on CPU 1, on a free 127.0.0.1 port, and are stopped by PID.", "",
           TIMED_METHOD.format(**p), ""]
    out += headline(results)
    out += ["## Machine", "", "| | |", "|---|---|",
            f"| nproc | {m['nproc']} |", f"| CPU | {m['cpu']} |", f"| kernel | {m['kernel']} |",
            f"| memory | {m['memory']} |", f"| python | {m['python']} |"]
    if results.get("damon"):
        out.append(f"| DAMON monitors (kdamond) during the run | {results['damon']} |")
    if results.get("time_slice"):
        out.append(f"| time slice of server and client | {results['time_slice']} |")
    out += [f"| {k} | `{v}` |" for k, v in m["versions"].items()]
    load = ", ".join(f"{fig} {v['start']} -> {v.get('end', '?')}" for fig, v in results["loadavg"].items())
    out += ["", f"Load average (1/5/15 min) at the start and end of each figure: {load}. On a shared machine other "
            "processes add noise to every timed figure; memory, capacity and instruction counts do not depend on "
            "timing.", ""]
    out += pressure_lines(results)
    out += ["## Targets", "", "| target | server command |", "|---|---|"]
    out += [f"| {t} | `{cmd}` |" for t, cmd in results["targets"].items()]
    out += [f"| {t} | skipped: {why} |" for t, why in results["skipped"].items()]
    out += [""]
    out += maxima_section(results)
    out += sweep_section(results)
    out += latency_section(results, 3, "load_b", WORKLOADS["b"].title)
    out += latency_section(results, 4, "load_c", WORKLOADS["c"].title)
    out += cpu_section(results)
    out += threads2_section(results)
    out += memory_section(results)
    out += callgrind_section(results)
    out += handshakes_section(results)
    out += closing_note(results)
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
