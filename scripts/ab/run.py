"""`make ab`: every available target, every figure, alternating runs.

Usage: run.py [--quick] [--out DIR]. Writes DIR/results.json (all raw runs),
then DIR/report.md and DIR/*.svg.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from typing import Callable

import charts
import machine
import measure_callgrind
import measure_capacity
import measure_latency
import measure_memory
import measure_throughput
import report
import summary
from plan import Plan, plan_for
from targets import (BASELINE, BENCH, MEMCACHED, MOLT, MOLT_C, REFERENCE, ROOT, TARGETS, Settings, Target,
                     snapshot_binaries, split_available)


def log(msg: str) -> None:
    print(f"[ab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def alternate(name: str, targets: list[Target], plan: Plan, results: dict,
              measure: Callable[[Target], dict], show: Callable[[dict], str]) -> None:
    """Round r: every target once, in order (A B C D A B C D ...)."""
    runs = results["runs"].setdefault(name, [])
    results["loadavg"][name] = {"start": machine.loadavg()}
    for rnd in range(plan.runs):
        for t in targets:
            t0 = time.monotonic()
            try:
                rec = measure(t)
                note = show(rec)
            except Exception as e:  # keep going: one failed run is reported, not fatal
                rec = {"error": f"{e.__class__.__name__}: {e}"}
                note = "FAILED " + rec["error"].splitlines()[0]
                traceback.print_exc(file=sys.stderr)
            rec.update(round=rnd, target=t.name, seconds=round(time.monotonic() - t0, 2))
            runs.append(rec)
            log(f"{name} {rnd + 1}/{plan.runs} {t.name:<12} {note}")
    results["loadavg"][name]["end"] = machine.loadavg()


def latency_rate(plan: Plan, results: dict) -> tuple[int, str]:
    if plan.lat_rate:
        return plan.lat_rate, f"fixed rate ({plan.mode} mode)"
    for who in (REFERENCE, BASELINE):
        best = summary.median_of(results, "throughput", who, lambda r: r["ops_per_sec"])
        if best:
            return int(best / 2), f"half of {who}'s median maximum throughput in this run ({best:,.0f} ops/s)"
    raise RuntimeError("no throughput measured: cannot choose a latency rate")


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="3 short runs per figure (a few minutes)")
    ap.add_argument("--out", default=os.path.join(ROOT, "target/ab"))
    ap.add_argument("--built-in", default=ROOT, metavar="CHECKOUT",
                    help="measure the binaries `make build` left in another checkout (default: this one)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    plan = plan_for(args.quick)
    sources = snapshot_binaries(args.built_in)
    targets, skipped = split_available(TARGETS)
    for t, why in skipped.items():
        log(f"skipping {t}: {why}")
    est = plan.estimate_seconds(len(targets))
    log(f"{plan.mode} mode: {len(targets)} targets x {plan.runs} alternating runs per figure; "
        f"throughput and latency {plan.tput_seconds:g} s each; estimated {est / 60:.0f} min "
        f"(finishing about {time.strftime('%H:%M', time.localtime(time.time() + est))})")

    def server_command(t: Target) -> str:
        argv = ["taskset", "-c", "0", *t.command(Settings("PORT", plan.threads, plan.memory_mb))]
        return " ".join(argv).replace(ROOT + "/", "")

    results = {
        "plan": plan.as_dict(), "baseline": BASELINE, "reference": REFERENCE,
        "targets": {t.name: server_command(t) for t in targets}, "skipped": skipped,
        "estimate_seconds": est, "binaries_from": sources, "source": source_state(args.built_in),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine.describe({"molt-c": [MOLT_C, "-V"], "molt": [MOLT, "-V"], "memcached": [MEMCACHED, "-V"],
                                     "molt-bench": [BENCH, "-V"], "valgrind": ["valgrind", "--version"],
                                     "rustc": ["rustc", "--version"], "cc": ["cc", "--version"]}),
        "loadavg": {}, "runs": {},
    }
    t_start = time.monotonic()

    def ops(r: dict) -> str:
        return f"{r['ops_per_sec']:,.0f} ops/s"

    alternate("throughput", targets, plan, results, lambda t: measure_throughput.measure(t, plan), ops)
    save(results, args.out)

    rate, why = latency_rate(plan, results)
    results["latency_rate"] = {"rate": rate, "why": why}
    log(f"latency at {rate:,} req/s: {why}")
    alternate("latency", targets, plan, results, lambda t: measure_latency.measure(t, plan, rate),
              lambda r: "p50/p99/p999/max us "
              + "/".join(str(r["latency_us"][p]) for p in ("p50", "p99", "p999", "max")))
    save(results, args.out)

    # Memory, capacity and instruction counts describe storage, not the
    # transport: they are measured on the plaintext targets only.
    plain = [t for t in targets if not t.bench_args]
    alternate("memory", plain, plan, results, lambda t: measure_memory.measure(t, plan),
              lambda r: f"RSS {r['rss_idle_kib'] / 1024:.1f} -> {r['rss_loaded_kib'] / 1024:.1f} MiB")
    save(results, args.out)

    alternate("capacity", plain, plan, results, lambda t: measure_capacity.measure(t, plan),
              lambda r: f"{r['readable']:,} of {r['written']:,} readable")
    save(results, args.out)

    alternate("callgrind", plain, plan, results, lambda t: measure_callgrind.measure(t, plan),
              lambda r: f"{r['ir_per_request']:,.0f} Ir/request"
              + (f", engine {r['engine_ir_per_request']:,.0f}" if "engine_ir_per_request" in r else ""))

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
