"""TLS handshakes per second against one TLS target: `molt-bench
--handshake-bench` (4 connections, each connecting, handshaking, sending
`version`, reading its reply and closing, over and over) on a fresh server,
full handshakes (no resumption) or resumed ones (the client keeps its
tickets), with the server's CPU time over the run.

Used by run.py (figures handshakes_full, handshakes_resumed) and by
tls_compare.py.
"""

from __future__ import annotations

import os
import time

from bench import bench_command_line, run_bench
from plan import Plan
from server import cpu_seconds, running
from targets import Target

# Figure name suffix -> molt-bench's resumption flag.
KINDS = {"full": "--tls-resume=off", "resumed": "--tls-resume=on"}
CONNECTIONS = 4


def figure_name(kind: str) -> str:
    return f"handshakes_{kind}"


def bench_args(kind: str, seconds: float, warmup: float) -> list[str]:
    return ["--handshake-bench", "-c", str(CONNECTIONS), KINDS[kind], "-w", str(warmup), "-t", str(seconds)]


def handshakes_of(results: dict) -> dict:
    """molt-bench's handshake report; raises when a handshake failed or none
    completed. How many were resumed is kept: the report shows it beside the
    rate (a "resumed" run that the server did not resume measures full ones)."""
    if results["errors"]:
        raise RuntimeError(f"molt-bench counted {results['errors']} errors")
    h = results["handshakes"]
    if not h or not h["count"]:
        raise RuntimeError("no handshake completed")
    return h


def command_line(target: Target, args: list[str]) -> str:
    """For the report: the TLS flags with their files by name, then the run's."""
    tls = [os.path.basename(a) if os.path.isabs(a) else a for a in target.bench_args]
    return bench_command_line([*tls, *args])


def measure(target: Target, plan: Plan, kind: str) -> dict:
    args = bench_args(kind, plan.handshake_seconds, plan.warmup)
    with running(target, plan.threads, plan.memory_mb) as (proc, port):
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        res = run_bench(port, args, timeout_s=plan.handshake_seconds + plan.warmup + 60, target=target)
        cpu, wall = cpu_seconds(proc.pid) - cpu0, time.monotonic() - t0
    h = handshakes_of(res)
    # CPU over the whole molt-bench run (warm-up included), per handshake of
    # the measured window scaled to that run's length.
    done = h["per_sec"] * (plan.handshake_seconds + plan.warmup)
    return {"kind": kind, "connections": CONNECTIONS, "handshakes_per_sec": h["per_sec"], "handshakes": h["count"], "full": h["full"],
            "resumed": h["resumed"], "latency_us": h["latency_us"], "cpu_s": cpu,
            "cpu_us_per_handshake": cpu * 1e6 / done if done else None,
            "server_busy": cpu / wall if wall > 0 else None,
            "bench": ["read utime+stime of the server in /proc/PID/stat", command_line(target, args),
                      "read utime+stime again"]}


def show(r: dict) -> str:
    busy = f", server busy {r['server_busy']:.0%}" if r.get("server_busy") is not None else ""
    return f"{r['handshakes_per_sec']:,.0f} {r['kind']} handshakes/s{busy}"
