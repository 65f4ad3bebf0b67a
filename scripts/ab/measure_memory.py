"""Figure 3a: resident memory (VmRSS) before and after loading a fixed data set."""

from __future__ import annotations

from memclient import Client
from plan import Plan
from server import rss_kib, running
from targets import Target

PREFIX = "rss:"


def measure(target: Target, plan: Plan) -> dict:
    with running(target, plan.threads, plan.memory_mb) as (proc, port):
        idle = rss_kib(proc.pid)
        with Client(port, deadline_s=120) as c:
            c.load(PREFIX, plan.rss_keys, plan.value_size)
            loaded = rss_kib(proc.pid)
            back = c.read_back(PREFIX, plan.rss_keys, plan.value_size)
    if back.wrong:
        raise RuntimeError(f"{target.name}: {back.wrong} wrong values after the RSS load")
    return {"rss_idle_kib": idle, "rss_loaded_kib": loaded, "keys": plan.rss_keys,
            "readable": back.hits, "client": f"memclient: {plan.rss_keys} noreply sets of "
            f"{plan.value_size} B in batches of 500 (+ version), then multi-gets of 100 keys"}
