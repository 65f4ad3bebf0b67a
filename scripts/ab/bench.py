"""Run molt-bench pinned to the client CPU and return its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import timeslice
from server import CLIENT_CPU
from targets import BENCH, Target


def bench_argv(port: int, args: list[str], target: Target | None = None) -> list[str]:
    extra = list(target.bench_args) if target else []
    return ["taskset", "-c", CLIENT_CPU, BENCH, "-p", str(port), "-q", *extra, *args]


def run_bench(port: int, args: list[str], timeout_s: float, target: Target | None = None,
              check: bool = True) -> dict:
    """molt-bench ... --json FILE; raises when it fails or reports wrong replies."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = bench_argv(port, args, target) + ["--json", out.name]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, preexec_fn=timeslice.preexec)
        if check and proc.returncode != 0:
            # stdout has the table (wrong replies, errors); stderr why it stopped
            raise RuntimeError(f"molt-bench failed ({proc.returncode}): {' '.join(argv)}\n"
                               f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        if os.path.getsize(out.name) == 0:
            raise RuntimeError(f"molt-bench wrote no JSON: {proc.stderr[-2000:]}")
        return json.load(open(out.name))["results"]


def bench_command_line(args: list[str]) -> str:
    """For the report: the command as a reader would type it."""
    return " ".join(["taskset", "-c", CLIENT_CPU, "molt-bench", "-p", "PORT", "-q", *args])
