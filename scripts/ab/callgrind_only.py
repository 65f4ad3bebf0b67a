"""`make ab-callgrind`: instructions per request only, for the plaintext molt
targets (molt-c, molt slab, molt seg, molt slab/seg with --protocol rust, and
the all-Rust molt-rs),
with the full plan's request count.

Callgrind counts instructions, not seconds, so one run per target is
repeatable on a busy machine; this is the figure that decides whether a
change made the request path cheaper or dearer. Prints one line per target
and writes DIR/callgrind.json.

Usage: callgrind_only.py [--out DIR] [--targets NAME,NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import measure_callgrind
from plan import FULL
from targets import MEMCACHED, ROOT, available_plaintext, snapshot_binaries


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(ROOT, "target/ab"))
    ap.add_argument("--targets", default="molt-c,molt slab,molt seg,molt slab rs,molt seg rs,molt-rs",
                    help="comma-separated target names (see scripts/ab/targets.py)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    snapshot_binaries(ROOT)
    targets = available_plaintext(args.targets)
    results = {}
    for t in targets:
        r = measure_callgrind.measure(t, FULL)
        results[t.name] = r
        engine = f", engine {r['engine_ir_per_request']:,.0f}" if "engine_ir_per_request" in r else ""
        print(f"{t.name:<12} {r['ir_per_request']:,.1f} Ir/request{engine} ({r['requests']:,} requests)",
              flush=True)
    with open(os.path.join(args.out, "callgrind.json"), "w") as f:
        json.dump({"memcached": MEMCACHED, "results": results}, f, indent=1)
    return 0 if targets else 1


if __name__ == "__main__":
    sys.exit(main())
