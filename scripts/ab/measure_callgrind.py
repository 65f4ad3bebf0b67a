"""Figure 4: instructions per request under callgrind, whole server and storage engine.

The server runs under `valgrind --tool=callgrind`. molt-bench preloads the
keys, callgrind's counters are zeroed (callgrind_control -z), molt-bench
sends exactly N requests, the counters are dumped (callgrind_control -d).
The dump therefore holds the measured requests only. Engine cost is the
inclusive cost of the storage.h entry points the protocol calls
(molt_storage_*) minus the value sink (write_value, the core's callback that
formats the reply while the engine holds its lock): the same boundary for
both engines, so slab and seg are compared on equal terms.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import tempfile

from bench import bench_command_line, run_bench
from plan import Plan
from server import running
from targets import CONN_LIMIT, Target

STORAGE_ENTRY = {f"molt_storage_{op}" for op in ("get", "get_touch", "store", "arith", "remove", "touch", "flush")}
VALUE_SINK = "write_value"
TOP = 12
# valgrind keeps this many descriptors below the hard limit for itself and
# refuses to let the program change the hard limit: memcached sets both limits
# to -c, so the hard limit must be exactly -c plus these.
VALGRIND_RESERVED_FDS = 12
LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.+?)(?: \[(.+)\])?\s*$")


def preload_args(plan: Plan) -> list[str]:
    return ["--flush", "--preload", "-k", str(plan.cg_keys), "--value-size", str(plan.value_size),
            "-c", "1", "-n", "1", "-w", "0", "-t", "30"]


def measured_args(plan: Plan) -> list[str]:
    return ["--expect-hits", "-k", str(plan.cg_keys), "--value-size", str(plan.value_size), "--ratio", "9:1",
            "-c", str(plan.cg_conns), "-d", str(plan.cg_depth), "-w", "0", "-t", "600", "-n", str(plan.cg_requests)]


def control(flag: str, pid: int) -> None:
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True, timeout=120)


def annotate(path: str, inclusive: bool) -> list[tuple[int, str]]:
    """(Ir, 'file:function') for every function in a callgrind dump, each
    once: callgrind_annotate may list a function twice, under two spellings
    of its file's path (`c-core/src/x.c` and `/work/main/c-core/src/x.c`,
    costs equal or a few Ir apart), which doubled the engine's share in a
    `make ab` run (2026-12-07). The larger row stands."""
    argv = ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100", "--auto=no", path]
    return parse_annotate(subprocess.run(argv, check=True, capture_output=True, text=True, timeout=300).stdout)


def parse_annotate(out: str) -> list[tuple[int, str]]:
    """[`annotate`]'s rows from callgrind_annotate's text."""
    best: dict[str, tuple[int, str]] = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m and "PROGRAM TOTALS" not in m.group(2):
            ir, name = int(m.group(1).replace(",", "")), m.group(2)
            if ir > best.get(short(name), (-1, ""))[0]:
                best[short(name)] = (ir, name)
    return list(best.values())


def function_of(file_fn: str) -> str:
    """'path/file.c:func' -> 'func' (Rust paths keep their '::')."""
    file, sep, fn = file_fn.partition(":")
    return fn if sep and not file.startswith(("<", "0x")) else file_fn


def short(file_fn: str) -> str:
    file, sep, fn = file_fn.partition(":")
    return f"{os.path.basename(file)}:{fn}" if sep else file_fn


def by_function(rows: list[tuple[int, str]]) -> dict[str, int]:
    """Sum the per-(file, function) rows of one function (inlined code is split by file)."""
    acc: dict[str, int] = {}
    for ir, name in rows:
        fn = function_of(name)
        acc[fn] = acc.get(fn, 0) + ir
    return acc


def total_ir(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def measure(target: Target, plan: Plan) -> dict:
    with tempfile.TemporaryDirectory(prefix="ab-cg-") as tmp:
        out = os.path.join(tmp, "cg.out")
        nofile = CONN_LIMIT + VALGRIND_RESERVED_FDS
        wrapper = ["prlimit", f"--nofile={nofile}:{nofile}",
                   "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        with running(target, plan.threads, plan.memory_mb, wrapper=wrapper, start_timeout_s=120,
                     log_path=os.path.join(tmp, "valgrind.log")) as (proc, port):
            run_bench(port, preload_args(plan), timeout_s=300, target=target)
            control("--zero", proc.pid)
            res = run_bench(port, measured_args(plan), timeout_s=900, target=target)
            control("--dump", proc.pid)
        dumps = sorted(glob.glob(out + ".*"))
        if not dumps:
            raise RuntimeError("callgrind wrote no dump")
        dump = dumps[0]  # part 1: the measured window
        requests = res["ops"]
        total = total_ir(dump)
        incl = annotate(dump, inclusive=True)
        self_rows = annotate(dump, inclusive=False)
    result = {"requests": requests, "ir_total": total, "ir_per_request": total / requests,
              "top_inclusive": [(ir, short(n)) for ir, n in sorted(incl, reverse=True)[:TOP]],
              # (callgrind charges the frames open when the counters were zeroed,
              # e.g. clone/start_thread, with everything: leave those out)
              "top_self": [(ir, short(n)) for ir, n in sorted(self_rows, reverse=True) if ir < 0.9 * total][:TOP],
              "bench": [bench_command_line(preload_args(plan)), "callgrind_control --zero PID",
                        bench_command_line(measured_args(plan)), "callgrind_control --dump PID"]}
    fns = by_function(incl)
    # The boundary is the C protocol's: with the Rust protocol (no
    # write_value) the same subtraction would charge its reply formatting
    # to the engine, so no engine figure is given.
    if target.engine and VALUE_SINK in fns:
        engine = sum(ir for fn, ir in fns.items() if fn in STORAGE_ENTRY) - fns.get(VALUE_SINK, 0)
        result["engine_ir"] = engine
        result["engine_ir_per_request"] = engine / requests
    return result
