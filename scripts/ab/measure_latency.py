"""Figure 2: latency percentiles at a fixed rate, open loop (from intended send time)."""

from __future__ import annotations

from bench import bench_command_line, run_bench
from plan import Plan
from server import running
from targets import Target


def bench_args(plan: Plan, rate: int) -> list[str]:
    return ["--flush", "--preload", "--expect-hits", "-r", str(rate), "-c", str(plan.lat_conns),
            "-d", str(plan.lat_depth), "-k", str(plan.lat_keys), "--value-size", str(plan.value_size),
            "--ratio", "9:1", "-w", str(plan.lat_warmup), "-t", str(plan.lat_seconds)]


def measure(target: Target, plan: Plan, rate: int) -> dict:
    args = bench_args(plan, rate)
    with running(target, plan.threads, plan.memory_mb) as (_, port):
        res = run_bench(port, args, timeout_s=plan.lat_seconds + plan.lat_warmup + 120, target=target)
    return {"rate": rate, "ops_per_sec": res["ops_per_sec"], "latency_us": res["latency_us"]["all"],
            "send_lag_us": res.get("send_lag_us"), "bench": bench_command_line(args)}
