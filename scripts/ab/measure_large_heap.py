"""Large heap: -m 1024 (the plan's large_memory_mb) and 10M keys stored.

molt-bench stores every key once (pipelined sets over 4 connections, each
must answer STORED, or `SERVER_ERROR out of memory storing object`, which
is counted: memcached refuses some sets when a flood outruns its LRU
maintainer): fill time is that preload's wall time. Then `stats`
gives the items the server kept (curr_items), /proc gives VmRSS, and a
sample of gets (10-key multi-gets over the whole key space, every value
verified) checks that what is kept is readable and right.
"""

from __future__ import annotations

from bench import bench_command_line, run_bench
from memclient import Client
from plan import Plan
from server import rss_kib, running
from targets import Target

SAMPLE_GETS = 20_000


def fill_args(plan: Plan) -> list[str]:
    return ["--flush", "--preload", "-k", str(plan.large_keys), "--value-size", str(plan.value_size),
            "-c", "4", "-n", "1", "-w", "0", "-t", "60", "--refused-ok"]


def sample_args(plan: Plan) -> list[str]:
    return ["-k", str(plan.large_keys), "--value-size", str(plan.value_size), "--ratio", "1:0", "-m", "10",
            "--one-thread", "-c", "4", "-d", "8", "-n", str(SAMPLE_GETS), "-w", "0", "-t", "120"]


def measure(target: Target, plan: Plan) -> dict:
    with running(target, 1, plan.large_memory_mb) as (proc, port):
        fill = run_bench(port, fill_args(plan), timeout_s=900, target=target)
        with Client(port, deadline_s=60) as c:
            stats = c.stats()
        rss = rss_kib(proc.pid)
        sample = run_bench(port, sample_args(plan), timeout_s=300, target=target)
    asked = sample["get_keys"]
    return {"memory_mb": plan.large_memory_mb, "keys": plan.large_keys, "fill_secs": fill["preload"]["secs"],
            "items_kept": int(stats.get("curr_items", -1)), "sets_refused": fill.get("refused", 0), "evictions": int(stats.get("evictions", -1)),
            "rss_kib": rss, "sample_keys": asked, "sample_hit_ratio": sample["hits"] / asked if asked else None,
            "bench": [bench_command_line(fill_args(plan)), "stats (curr_items, evictions); VmRSS",
                      bench_command_line(sample_args(plan))]}
