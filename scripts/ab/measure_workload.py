"""One timed run of a workload against one target: the closed-loop maximum
(rate None) or an open-loop run at a fixed rate, with the server's CPU time
(in all, and per thread name: which threads ran beside the one serving).

The keys are preloaded by a separate molt-bench run first, so the CPU read
from /proc/PID/stat around the measured run (warm-up included) is spent on
that run's requests only: CPU per request = (user + system) / replies.
Plaintext targets get molt-bench --one-thread (every connection on one
thread: the client cannot preempt itself); TLS targets the threaded client
(--one-thread speaks plain TCP only).
"""

from __future__ import annotations

import time

from bench import bench_command_line, run_bench
from plan import Plan
from server import cpu_seconds, running, thread_cpu_seconds
from targets import Target
from workloads import Workload


def preload_args(plan: Plan) -> list[str]:
    return ["--flush", "--preload", "-k", str(plan.keys), "--value-size", str(plan.value_size),
            "-c", "4", "-n", "1", "-w", "0", "-t", "60"]


def measured_args(plan: Plan, wl: Workload, rate: int | None, target: Target) -> list[str]:
    args = ["--expect-hits", "-k", str(plan.keys), "--value-size", str(plan.value_size), "--ratio", "9:1",
            "-c", str(wl.conns), "-d", str(wl.depth), "-m", str(wl.multiget), "-w", str(plan.warmup)]
    if not target.bench_args:
        args.append("--one-thread")
    if rate is None:
        return args + ["-t", str(plan.tput_seconds)]
    if not target.bench_args:
        args += ["--arrivals", "poisson"]
    return args + ["-r", str(rate), "-t", str(plan.lat_seconds)]


def measure(target: Target, plan: Plan, wl: Workload, rate: int | None, threads: int) -> dict:
    args = measured_args(plan, wl, rate, target)
    seconds = plan.tput_seconds if rate is None else plan.lat_seconds
    with running(target, threads, plan.memory_mb) as (proc, port):
        run_bench(port, preload_args(plan), timeout_s=120, target=target)
        cpu0, threads0, t0 = cpu_seconds(proc.pid), thread_cpu_seconds(proc.pid), time.monotonic()
        res = run_bench(port, args, timeout_s=seconds + plan.warmup + 120, target=target)
        cpu, wall = cpu_seconds(proc.pid) - cpu0, time.monotonic() - t0
        threads = {name: round(s - threads0.get(name, 0.0), 2) for name, s in thread_cpu_seconds(proc.pid).items()}
    replies = res["verified_replies"]
    return {"workload": wl.key, "threads": threads, "rate": rate, "ops_per_sec": res["ops_per_sec"],
            "ops": res["ops"], "latency_us": res["latency_us"]["all"], "send_lag_us": res.get("send_lag_us"),
            "send_lag_buckets": res.get("send_lag_buckets"),
            "reportable_us": res.get("reportable_us"), "replies": replies, "cpu_s": cpu,
            "cpu_us_per_request": cpu * 1e6 / replies if replies else None,
            "server_busy": cpu / wall if wall > 0 else None,
            "thread_cpu_s": {name: s for name, s in threads.items() if s > 0},
            "bench": [bench_command_line(preload_args(plan)), "read utime+stime of the server in /proc/PID/stat",
                      bench_command_line(args), "read utime+stime again"]}
