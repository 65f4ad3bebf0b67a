"""Copy target/ab's report and charts to docs/ab (the committed report)."""

from __future__ import annotations

import os
import re
import shutil
import sys

from targets import ROOT


def main() -> None:
    src = os.path.join(ROOT, "target/ab")
    dst = os.path.join(ROOT, "docs/ab")
    if not os.path.exists(os.path.join(src, "report.md")):
        sys.exit("no target/ab/report.md: run make ab first")
    os.makedirs(dst, exist_ok=True)
    charts = [f for f in os.listdir(src) if f.endswith(".svg")]
    for f in charts:
        shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
    text = open(os.path.join(src, "report.md")).read()
    # Images sit next to the report in both places; any link into target/ab becomes local.
    text = re.sub(r"\]\((?:\./)?(?:target/ab/)?([^)/]+\.svg)\)", r"](\1)", text)
    text = text.replace("raw runs in results.json", "raw runs in target/ab/results.json (not committed)")
    with open(os.path.join(dst, "report.md"), "w") as f:
        f.write(text)
    print(f"published report.md and {len(charts)} charts to {dst}")


if __name__ == "__main__":
    main()
