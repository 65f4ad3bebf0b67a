"""Copy a run's report and charts to docs/ab (the committed report).

Usage: publish.py [--from DIR] [--to DIR]; defaults target/ab -> docs/ab.
Charts the report no longer draws are removed from the destination, so a
stale chart cannot sit beside a new report. To try the path without
touching docs/ab: `make ab QUICK=1 AB_OUT=/tmp/ab` then
`make ab-publish AB_OUT=/tmp/ab AB_DOCS=/tmp/ab-docs`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys

from targets import ROOT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--from", dest="src", default=os.path.join(ROOT, "target/ab"))
    ap.add_argument("--to", dest="dst", default=os.path.join(ROOT, "docs/ab"))
    args = ap.parse_args()
    src, dst = args.src, args.dst
    if not os.path.exists(os.path.join(src, "report.md")):
        sys.exit(f"no {src}/report.md: run make ab first")
    os.makedirs(dst, exist_ok=True)
    charts = sorted(f for f in os.listdir(src) if f.endswith(".svg"))
    for f in charts:
        shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
    stale = sorted(f for f in os.listdir(dst) if f.endswith(".svg") and f not in charts)
    for f in stale:
        os.remove(os.path.join(dst, f))
    text = open(os.path.join(src, "report.md")).read()
    # Images sit next to the report in both places; any link into target/ab becomes local.
    text = re.sub(r"\]\((?:\./)?(?:target/ab/)?([^)/]+\.svg)\)", r"](\1)", text)
    text = text.replace("raw runs in results.json", "raw runs in target/ab/results.json (not committed)")
    with open(os.path.join(dst, "report.md"), "w") as f:
        f.write(text)
    print(f"published report.md and {len(charts)} charts to {dst}"
          + (f"; removed stale {', '.join(stale)}" if stale else ""))


if __name__ == "__main__":
    main()
