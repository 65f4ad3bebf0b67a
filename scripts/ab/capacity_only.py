"""`make ab-capacity`: the capacity figure alone, side by side in one run:
items still readable after writing many more keys than fit, with the
server's resident memory (VmRSS) beside the item count and their ratio.

Items per resident MiB is the figure that counts for a cache: what a memory
limit buys, metadata outside the limit included. Defaults are the full
plan's (-m 64, 1M keys of 100 B); --memory-mb 1024 --keys 10000000 is the
large size. Prints one line per target and writes DIR/capacity.json.

Usage: capacity_only.py [--out DIR] [--targets NAME,NAME] [--memory-mb N] [--keys N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import measure_capacity
from plan import FULL
from targets import MEMCACHED, REFERENCE, ROOT, available_plaintext, snapshot_binaries


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(ROOT, "target/ab"))
    ap.add_argument("--targets", default="memcached,molt-c,molt slab,molt seg",
                    help="comma-separated target names (see scripts/ab/targets.py)")
    ap.add_argument("--memory-mb", type=int, default=FULL.memory_mb)
    ap.add_argument("--keys", type=int, default=FULL.cap_keys)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    snapshot_binaries(ROOT)
    plan = dataclasses.replace(FULL, memory_mb=args.memory_mb, cap_keys=args.keys)
    targets = available_plaintext(args.targets)
    results = {}
    for t in targets:
        results[t.name] = measure_capacity.measure(t, plan)
    ref = results.get(REFERENCE)
    for name, r in results.items():
        vs = ""
        if ref and name != REFERENCE and ref["items_per_rss_mib"]:
            vs = f" = {r['items_per_rss_mib'] / ref['items_per_rss_mib']:.2f}x {REFERENCE}"
        print(f"{name:<12} -m {plan.memory_mb}, {plan.cap_keys:,} keys: {r['readable']:,} readable, "
              f"RSS {r['rss_kib'] / 1024:,.1f} MiB, {r['items_per_rss_mib']:,.0f} items/MiB{vs}", flush=True)
    with open(os.path.join(args.out, f"capacity-m{plan.memory_mb}.json"), "w") as f:
        json.dump({"memcached": MEMCACHED, "plan": plan.as_dict(), "results": results}, f, indent=1)
    return 0 if targets else 1


if __name__ == "__main__":
    sys.exit(main())
