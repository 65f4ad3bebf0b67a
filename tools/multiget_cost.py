#!/usr/bin/env python3
"""Instructions and syscalls per request at workload (c): multi-gets of
`-m` keys, 90/10 get/set, 100-byte values, for molt-c, molt seg, molt seg rs
and molt-rs (or any of them). Kept apart from scripts/ab (make ab's own
callgrind figure measures single-key gets only).

Per target, on a fresh server (one worker, 127.0.0.1, stopped by PID):
  ir:      valgrind --tool=callgrind; molt-bench preloads the keys;
           callgrind_control -z; molt-bench sends exactly N requests;
           callgrind_control -d. Ir per request = the dump's total / N (the
           same steps as scripts/ab/measure_callgrind.py). With --keep DIR
           the dumps stay there for callgrind_annotate.
  strace:  the server runs plain; after the preload `strace -c -f -p PID`
           attaches to every thread, N requests run, strace is stopped
           (SIGINT, by its PID) and its table divided by N.

  cpu:     server on CPU 0, molt-bench (--one-thread) on CPU 1 as make ab
           pins them; after the preload `perf stat -p PID` counts, for N
           requests at full speed, the server's task-clock, context
           switches and syscalls by kind (tracepoints: no hardware
           counters needed, little overhead), and user and system time
           (/proc/PID/stat). CPU per request, not a
           timed figure; the bench's ops/s is printed for orientation only.

  tools/multiget_cost.py --mode ir --requests 20000 -c 100 -d 1
  tools/multiget_cost.py --mode strace --requests 20000 -c 100 -d 1
  tools/multiget_cost.py --mode cpu --requests 300000 -c 100 -d 1 --rounds 3
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts/ab"))
from server import free_port, stop, wait_port  # noqa: E402  (make ab's: a free port, a start, a stop by PID)
MOLT_C = os.path.join(ROOT, "target/c-only/molt-c")
MOLT = os.path.join(ROOT, "target/release/molt")
MOLT_RS = os.path.join(ROOT, "target/release/molt-rs")
BENCH = os.path.join(ROOT, "target/release/molt-bench")
TARGETS = {
    "molt-c": [MOLT_C],
    "molt seg": [MOLT, "--storage", "seg"],
    "molt seg rs": [MOLT, "--protocol", "rust", "--storage", "seg"],
    "molt-rs": [MOLT_RS],
}
CONN_LIMIT = 1024
# valgrind keeps 12 descriptors below the hard limit for itself (see
# scripts/ab/measure_callgrind.py)
NOFILE = CONN_LIMIT + 12
PERF_EVENTS = ["task-clock", "context-switches", "cpu-migrations", "page-faults", "raw_syscalls:sys_enter",
               *(f"syscalls:sys_enter_{c}" for c in ("epoll_wait", "recvfrom", "sendto", "epoll_ctl"))]
STRACE_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")


def bench(port: int, args: list[str], pin: str | None = None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = [*(["taskset", "-c", pin] if pin else []), BENCH, "-p", str(port), "-q", *args, "--json", out.name]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            raise RuntimeError(f"molt-bench failed: {' '.join(argv)}\n{p.stdout[-1500:]}{p.stderr[-1500:]}")
        return json.load(open(out.name))["results"]


def server_argv(name: str, port: int) -> list[str]:
    return [*TARGETS[name], "-l", "127.0.0.1", "-p", str(port), "-t", "1", "-m", "64",
            "-c", str(CONN_LIMIT), "-U", "0"]


def workload(a: argparse.Namespace) -> tuple[list[str], list[str]]:
    keys = ["-k", str(a.keys), "--value-size", "100"]
    preload = ["--flush", "--preload", *keys, "-c", "1", "-n", "1", "-w", "0", "-t", "60"]
    measured = ["--expect-hits", *keys, "--ratio", "9:1", "-m", str(a.multiget), "-c", str(a.conns),
                "-d", str(a.depth), "-w", "0", "-t", "1200", "-n", str(a.requests)]
    return preload, measured


def measure_ir(name: str, a: argparse.Namespace, keep: str) -> dict:
    preload, measured = workload(a)
    port = free_port()
    out = os.path.join(keep, name.replace(" ", "_") + ".cg")
    for old in glob.glob(out + "*"):
        os.remove(old)
    argv = ["prlimit", f"--nofile={NOFILE}:{NOFILE}", "valgrind", "--tool=callgrind",
            f"--callgrind-out-file={out}", *server_argv(name, port)]
    with open(os.path.join(keep, name.replace(" ", "_") + ".log"), "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            wait_port(port, proc, 120)
            bench(port, preload)
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
            res = bench(port, measured)
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        finally:
            stop(proc)
    dump = sorted(glob.glob(out + ".*"))[0]
    total = next(int(line.split()[1]) for line in open(dump) if line.startswith(("summary:", "totals:")))
    return {"target": name, "requests": res["ops"], "ir": total, "ir_per_request": total / res["ops"],
            "dump": dump}


def measure_strace(name: str, a: argparse.Namespace, keep: str) -> dict:
    preload, measured = workload(a)
    port = free_port()
    table = os.path.join(keep, name.replace(" ", "_") + ".strace")
    proc = subprocess.Popen(server_argv(name, port), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, 30)
        bench(port, preload)
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", table, "-p", str(proc.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # attached to every thread before the first request
        try:
            res = bench(port, measured)
        finally:
            stop(tracer, grace_s=60, sig=signal.SIGINT)
    finally:
        stop(proc)
    calls = {}
    for line in open(table):
        m = STRACE_ROW.match(line)
        if m and m.group(3) != "total":
            calls[m.group(3)] = int(m.group(1))
    n = res["ops"]
    return {"target": name, "requests": n, "per_request": {k: round(v / n, 3) for k, v in sorted(calls.items())},
            "total_per_request": round(sum(calls.values()) / n, 3)}


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> tuple[int, int]:
    """User and system CPU of the process, all its threads, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def measure_cpu(name: str, a: argparse.Namespace, keep: str) -> dict:
    preload, measured = workload(a)
    port = free_port()
    table = os.path.join(keep, name.replace(" ", "_") + ".perf")
    proc = subprocess.Popen(["taskset", "-c", "0", *server_argv(name, port)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, 30)
        bench(port, ["--one-thread", *preload])
        counter = subprocess.Popen(["perf", "stat", "-x", ",", "-o", table, "-e", ",".join(PERF_EVENTS),
                                    "-p", str(proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        try:
            before = cpu_ticks(proc.pid)
            res = bench(port, ["--one-thread", *measured], pin="1")
            after = cpu_ticks(proc.pid)
        finally:
            stop(counter, grace_s=60, sig=signal.SIGINT)
    finally:
        stop(proc)
    n = res["ops"]
    counts = {}
    for line in open(table):
        f = line.strip().split(",")
        if len(f) > 2 and f[0] and not line.startswith("#"):
            try:
                counts[f[2].replace("syscalls:sys_enter_", "")] = float(f[0])
            except ValueError:
                pass
    per = {k: round(v / n, 4) for k, v in counts.items() if k != "task-clock"}
    user_us, sys_us = ((b - a) * 1e6 / CLOCK_TICKS / n for a, b in zip(before, after))
    return {"target": name, "requests": n, "cpu_us_per_request": round(counts.get("task-clock", 0) * 1e3 / n, 3),
            "user_us_per_request": round(user_us, 3), "sys_us_per_request": round(sys_us, 3),
            "per_request": per, "ops_per_s": round(res.get("ops_per_sec", 0))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("ir", "strace", "cpu"), default="ir")
    p.add_argument("--targets", default=",".join(TARGETS), help="comma-separated: " + ", ".join(TARGETS))
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("-c", "--conns", type=int, default=100)
    p.add_argument("-d", "--depth", type=int, default=1)
    p.add_argument("-m", "--multiget", type=int, default=10)
    p.add_argument("-k", "--keys", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=1, help="the targets in turn, this many times")
    p.add_argument("--keep", help="directory for dumps and logs (default: a temporary one)")
    a = p.parse_args()
    keep = a.keep or tempfile.mkdtemp(prefix="multiget-cost-")
    os.makedirs(keep, exist_ok=True)
    measure = {"ir": measure_ir, "strace": measure_strace, "cpu": measure_cpu}[a.mode]
    for _ in range(a.rounds):
        for name in a.targets.split(","):
            print(json.dumps(measure(name.strip(), a, keep)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
