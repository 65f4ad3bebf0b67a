"""Figure 1: maximum throughput, closed loop, pipelined, 90/10 get/set."""

from __future__ import annotations

from bench import bench_command_line, run_bench
from plan import Plan
from server import running
from targets import Target


def bench_args(plan: Plan) -> list[str]:
    return ["--flush", "--preload", "--expect-hits", "-c", str(plan.tput_conns), "-d", str(plan.tput_depth),
            "-k", str(plan.tput_keys), "--value-size", str(plan.value_size), "--ratio", "9:1",
            "-w", str(plan.tput_warmup), "-t", str(plan.tput_seconds)]


def measure(target: Target, plan: Plan) -> dict:
    args = bench_args(plan)
    with running(target, plan.threads, plan.memory_mb) as (_, port):
        res = run_bench(port, args, timeout_s=plan.tput_seconds + plan.tput_warmup + 60, target=target)
    return {"ops_per_sec": res["ops_per_sec"], "ops": res["ops"], "latency_us": res["latency_us"]["all"],
            "bench": bench_command_line(args)}
