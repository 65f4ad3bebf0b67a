"""`make ab`: every available target, every figure, alternating runs.

Usage: run.py [--quick] [--out DIR]. Writes DIR/results.json (all raw runs),
then DIR/report.md and DIR/*.svg. Prints a line per run with the time left.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable

import charts
import damon
import machine
import measure_callgrind
import measure_capacity
import measure_handshakes
import measure_large_heap
import measure_memory
import measure_workload
import report
import summary
import timeslice
from plan import Plan, plan_for
from targets import (BASELINE, BENCH, MEMCACHED, MOLT, MOLT_C, REFERENCE, ROOT, TARGETS, TLS_REFERENCE, Settings,
                     Target, snapshot_binaries, split_available)
from workloads import WORKLOADS


def log(msg: str) -> None:
    print(f"[ab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Figure:
    name: str
    targets: list[Target]
    measure: Callable[[Target], dict]
    show: Callable[[dict], str]
    seconds: float  # estimated wall time of one run
    rounds: int
    # Why a run must be measured again (None: it stands), e.g. a p999 the
    # client's own lag decides; at most MAX_REPEATS times, the last kept.
    repeat_if: Callable[[dict], str | None] | None = None


# A run repeated this many times keeps its last attempt, whatever it shows;
# a figure repeats at most REPEAT_BUDGET runs in all (on a busy machine
# every run could be late: the full run must stay within 30 minutes).
MAX_REPEATS = 2
REPEAT_BUDGET = 12
# The client's own send lag at p999 in a quiet run of the judged figure:
# 36-110 us (full runs of 2026-12-07). Above this the machine stalled the
# client's core, and such a stall (VM preemption, kernel work) stalls the
# server too: 13.3 ms p999 with the client's lag at 712 us, 5.2 ms and
# 54 us two minutes later, same server.
QUIET_LAG_P999_US = 250
# A closed-loop maximum is the server's only while the server is saturated:
# 95-98% busy in quiet runs (the rest is connection set-up and warm-up).
# Below this the client or the machine set the limit (87-94% in the runs
# where one target of a round fell 20-30% behind its neighbours).
SATURATED_BUSY = 0.95


class Clock:
    """Progress and time left: the plan's estimate of what remains, scaled by
    how the finished runs compared with their own estimates."""

    def __init__(self, figures: list[Figure]):
        self.t0 = time.monotonic()
        self.left = sum(f.seconds * f.rounds * len(f.targets) for f in figures)
        self.total_runs = sum(f.rounds * len(f.targets) for f in figures)
        self.done_runs = 0
        self.spent_est = 0.0

    def estimate(self) -> float:
        return self.left

    def tick(self, estimated: float) -> str:
        self.done_runs += 1
        self.left -= estimated
        self.spent_est += estimated
        elapsed = time.monotonic() - self.t0
        scale = elapsed / self.spent_est if self.spent_est else 1.0
        left = max(0.0, self.left * scale)
        eta = time.strftime("%H:%M", time.localtime(time.time() + left))
        return f"[{self.done_runs}/{self.total_runs}, {left / 60:.1f} min left, about {eta}]"


def alternate(fig: Figure, results: dict, clock: Clock) -> None:
    """Round r: every target once, the order reversed every other round
    (A B C D, D C B A, A B C D): a machine that slows or speeds up during a
    round then does not favour the targets that always run first."""
    runs = results["runs"].setdefault(fig.name, [])
    results["loadavg"][fig.name] = {"start": machine.loadavg()}
    pressure = results.setdefault("cpu_pressure", {}).setdefault(fig.name, [])
    repeated = results.setdefault("repeated", {})
    for rnd in range(fig.rounds):
        for t in round_order(fig.targets, rnd):
            for attempt in range(MAX_REPEATS + 1):
                rec, note = measure_once(fig, t)
                rec.update(round=rnd, target=t.name)
                pressure.append(machine.cpu_pressure())
                why = fig.repeat_if(rec) if fig.repeat_if and "error" not in rec else None
                spent = len(repeated.get(fig.name, []))
                last = why is None or attempt == MAX_REPEATS or spent >= REPEAT_BUDGET
                again = "" if last else f"; measured again: {why}"
                log(f"{fig.name} {rnd + 1}/{fig.rounds} {t.name:<12} {note}{again} {clock.tick(fig.seconds)}")
                if last:
                    runs.append(rec)
                    break
                repeated.setdefault(fig.name, []).append({**rec, "why": why})
    results["loadavg"][fig.name]["end"] = machine.loadavg()


def round_order(targets: list[Target], rnd: int) -> list[Target]:
    return list(targets) if rnd % 2 == 0 else list(reversed(targets))


def measure_once(fig: Figure, t: Target) -> tuple[dict, str]:
    """One run of `fig` against `t`: its record (an error is recorded, not
    raised: one failed run is reported, not fatal) and its progress note."""
    t0 = time.monotonic()
    try:
        rec = fig.measure(t)
        note = fig.show(rec)
    except Exception as e:
        rec = {"error": f"{e.__class__.__name__}: {e}"}
        note = "FAILED " + rec["error"].splitlines()[0]
        traceback.print_exc(file=sys.stderr)
    rec["seconds"] = round(time.monotonic() - t0, 2)
    return rec, note


def client_late_at_p999(rec: dict) -> str | None:
    """Why the judged figure's run must be measured again: its p999 is the
    client's (lag above 10% of it, see molt-bench's `reportable_us`), or
    the client's own lag shows the machine stalled during the run."""
    lag, p999 = rec["send_lag_us"]["p999"], rec["latency_us"]["p999"]
    if (rec.get("reportable_us") or {}).get("p999") == "client-bound":
        return f"client send lag p999 {lag:,} us vs p999 {p999:,} us"
    if lag > QUIET_LAG_P999_US:
        return f"client send lag p999 {lag:,} us (a quiet run's is under {QUIET_LAG_P999_US} us), p999 {p999:,} us"
    return None


def server_not_saturated(rec: dict) -> str | None:
    """Why a maximum's run must be measured again: the server was not busy
    enough for the figure to be its own."""
    busy = rec.get("server_busy")
    if busy is None or busy >= SATURATED_BUSY:
        return None
    return f"server busy {busy:.1%}, under {SATURATED_BUSY:.0%}: the client or the machine set this maximum"


def load_rate(results: dict, max_figure: str, load: float) -> tuple[int, str]:
    """`load` x the reference's (else the baseline's) median maximum in `max_figure`."""
    for who in (REFERENCE, BASELINE):
        best = summary.median_of(results, max_figure, who, lambda r: r["ops_per_sec"])
        if best:
            return int(best * load), f"{load:.0%} of {who}'s median maximum in {max_figure} ({best:,.0f} req/s)"
    raise RuntimeError(f"no maximum measured in {max_figure}: cannot choose a rate")


def source_state(checkout: str) -> str:
    """The commit the binaries were built from, and whether the tree had changes."""
    def git(*a: str) -> str:
        p = subprocess.run(["git", "-C", checkout, *a], capture_output=True, text=True, timeout=30)
        return p.stdout.strip() if p.returncode == 0 else ""
    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        marker = os.path.join(checkout, "HEAD_COMMIT")  # an exported tree (git archive) may carry one
        return f"{checkout} (export of {open(marker).read().strip()[:12]})" if os.path.exists(marker) else checkout
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{checkout} at {commit}" + (" with uncommitted changes" if dirty else " (clean)")


def save(results: dict, out: str) -> None:
    tmp = os.path.join(out, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, os.path.join(out, "results.json"))


def figures(plan: Plan, targets: list[Target], results: dict) -> list[Figure]:
    """Every figure in the order it runs; a load figure's rate is chosen when
    it starts, from the maximum measured before it."""
    plain = [t for t in targets if not t.bench_args]  # TLS: workload (b) only (the threaded client)
    bases = [t for t in plain if not t.variant]  # the load sweep, -t 2 and storage figures
    figs: list[Figure] = []

    def ops(r: dict) -> str:
        busy = f", server busy {r['server_busy']:.0%}" if r.get("server_busy") is not None else ""
        return f"{r['ops_per_sec']:,.0f} ops/s{busy}"

    def lat(r: dict) -> str:
        cells = r.get("reportable_us") or {}
        shown = "/".join(str(cells.get(p, r["latency_us"][p])) for p in ("p50", "p99", "p999"))
        cpu = r.get("cpu_us_per_request")
        return (f"{r['ops_per_sec']:,.0f} ops/s p50/p99/p999 us {shown}"
                + (f", {cpu:.2f} us CPU/req" if cpu is not None else ""))

    # full mode measures a run again when its figure is not the server's (a
    # quick run is a first look: its few short runs judge nothing)
    full = plan.mode == "full"

    def maximum(name: str, wl: str, threads: int, ts: list[Target]) -> None:
        figs.append(Figure(name, ts, lambda t: measure_workload.measure(t, plan, WORKLOADS[wl], None, threads),
                           ops, plan.timed_seconds(closed=True), plan.runs, server_not_saturated if full else None))

    def at_load(name: str, wl: str, threads: int, max_figure: str, load: float, ts: list[Target]) -> None:
        def measure(t: Target) -> dict:
            if name not in results["rates"]:
                rate, why = load_rate(results, max_figure, load)
                results["rates"][name] = {"rate": rate, "why": why, "load": load, "workload": wl,
                                          "threads": threads}
                log(f"{name}: {rate:,} req/s offered ({why})")
            return measure_workload.measure(t, plan, WORKLOADS[wl], results["rates"][name]["rate"], threads)
        # the figure the validity check judges is measured again while the client was late
        judged = name == f"load_a_{round(plan.main_load * 100)}" and full
        figs.append(Figure(name, ts, measure, lat, plan.timed_seconds(closed=False), plan.runs,
                           client_late_at_p999 if judged else None))

    maximum("max_a", "a", 1, plain)
    maximum("max_b", "b", 1, targets)
    maximum("max_c", "c", 1, plain)
    for load in plan.loads:
        at_load(f"load_a_{round(load * 100)}", "a", 1, "max_a", load, plain if load == plan.main_load else bases)
    at_load("load_b", "b", 1, "max_b", plan.main_load, targets)
    at_load("load_c", "c", 1, "max_c", plan.main_load, plain)
    maximum("t2_max_a", "a", 2, bases)
    maximum("t2_max_b", "b", 2, bases)
    at_load("t2_load_a", "a", 2, "t2_max_a", plan.main_load, bases)
    for kind in measure_handshakes.KINDS:  # TLS set-up rate: the TLS targets only
        figs.append(Figure(measure_handshakes.figure_name(kind), [t for t in targets if t.bench_args],
                           lambda t, kind=kind: measure_handshakes.measure(t, plan, kind), measure_handshakes.show,
                           plan.handshake_run_seconds(), plan.runs))
    # Memory, capacity and instruction counts describe storage, not the
    # transport: they are measured on the plaintext targets only; memory and
    # capacity not on variants (the protocol does not change them, and
    # shadow mode holds every item twice: its cost is CPU).
    stored = bases
    figs.append(Figure("memory", stored, lambda t: measure_memory.measure(t, plan),
                       lambda r: f"RSS {r['rss_idle_kib'] / 1024:.1f} -> {r['rss_loaded_kib'] / 1024:.1f} MiB",
                       plan.rss_seconds(), plan.runs))
    figs.append(Figure("capacity", stored, lambda t: measure_capacity.measure(t, plan),
                       lambda r: f"{r['readable']:,} of {r['written']:,} readable", plan.capacity_seconds(),
                       plan.runs))
    figs.append(Figure("large_heap", stored, lambda t: measure_large_heap.measure(t, plan),
                       lambda r: f"{r['items_kept']:,} of {r['keys']:,} kept, filled in {r['fill_secs']:.1f} s, "
                       f"RSS {r['rss_kib'] / 1024:,.0f} MiB"
                       + (f", {r['sets_refused']:,} sets refused" if r.get("sets_refused") else ""), plan.large_heap_seconds(), 1))
    figs.append(Figure("callgrind", plain, lambda t: measure_callgrind.measure(t, plan),
                       lambda r: f"{r['ir_per_request']:,.0f} Ir/request"
                       + (f", engine {r['engine_ir_per_request']:,.0f}" if "engine_ir_per_request" in r else ""),
                       plan.callgrind_seconds(), plan.runs))
    return figs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="2 short runs per figure (about 5 minutes)")
    ap.add_argument("--out", default=os.path.join(ROOT, "target/ab"))
    ap.add_argument("--built-in", default=ROOT, metavar="CHECKOUT",
                    help="measure the binaries `make build` left in another checkout (default: this one)")
    ap.add_argument("--only", default="", metavar="FIG,FIG",
                    help="run only these figures (names as in results.json), e.g. max_a,load_a_50")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    plan = plan_for(args.quick)
    sources = snapshot_binaries(args.built_in)
    targets, skipped = split_available(TARGETS)
    for t, why in skipped.items():
        log(f"skipping {t}: {why}")

    def server_command(t: Target) -> str:
        argv = ["taskset", "-c", "0", *t.command(Settings("PORT", plan.threads, plan.memory_mb))]
        return " ".join(argv).replace(ROOT + "/", "")

    results = {
        "plan": plan.as_dict(), "baseline": BASELINE, "reference": REFERENCE, "tls_reference": TLS_REFERENCE,
        "targets": {t.name: server_command(t) for t in targets}, "skipped": skipped,
        "binaries_from": sources, "source": source_state(args.built_in),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine.describe({"molt-c": [MOLT_C, "-V"], "molt": [MOLT, "-V"], "memcached": [MEMCACHED, "-V"],
                                     "molt-bench": [BENCH, "-V"], "valgrind": ["valgrind", "--version"],
                                     "rustc": ["rustc", "--version"], "cc": ["cc", "--version"]}),
        "loadavg": {}, "rates": {}, "runs": {},
        "time_slice": timeslice.describe(),
    }
    figs = figures(plan, targets, results)
    if args.only:
        wanted = set(args.only.split(","))
        figs = [f for f in figs if f.name in wanted]
    clock = Clock(figs)
    est = clock.estimate()
    results["estimate_seconds"] = est
    log(f"{plan.mode} mode: {len(targets)} targets, {len(figs)} figures, {clock.total_runs} runs "
        f"({plan.runs} alternating rounds each); estimated {est / 60:.0f} min "
        f"(finishing about {time.strftime('%H:%M', time.localtime(time.time() + est))})")
    t_start = time.monotonic()
    with damon.Pause() as quiet:
        results["damon"] = quiet.note
        log(f"DAMON monitors: {quiet.note}")
        for fig in figs:
            alternate(fig, results, clock)
            save(results, args.out)

    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    results["elapsed_seconds"] = round(time.monotonic() - t_start, 1)
    save(results, args.out)
    charts.write_all(results, args.out)
    report.write(results, args.out)
    log(f"done in {results['elapsed_seconds'] / 60:.1f} min: {os.path.join(args.out, 'report.md')}")
    failed = sum("error" in r for runs in results["runs"].values() for r in runs)
    if failed:
        log(f"{failed} runs failed (see the report)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
