"""Figure 3b: items still readable after writing many more keys than fit."""

from __future__ import annotations

from memclient import Client
from plan import Plan
from server import rss_kib, running
from targets import Target

PREFIX = "cap:"


def measure(target: Target, plan: Plan) -> dict:
    with running(target, plan.threads, plan.memory_mb) as (proc, port):
        with Client(port, deadline_s=300) as c:
            c.load(PREFIX, plan.cap_keys, plan.value_size)
            back = c.read_back(PREFIX, plan.cap_keys, plan.value_size)
            stats = c.stats()
        rss = rss_kib(proc.pid)
    if back.wrong:
        raise RuntimeError(f"{target.name}: {back.wrong} wrong values in the capacity read-back")
    return {"written": plan.cap_keys, "readable": back.hits, "rss_kib": rss,
            "items_per_rss_mib": back.hits / (rss / 1024) if rss else 0.0,
            "curr_items": int(stats.get("curr_items", -1)), "evictions": int(stats.get("evictions", -1)),
            "client": f"memclient: {plan.cap_keys} distinct keys, noreply sets of {plan.value_size} B "
            "in batches of 500 (+ version), then multi-gets of 100 keys, values verified"}
