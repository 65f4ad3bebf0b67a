"""Start one target pinned to a CPU on a free loopback port; stop it by PID."""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

import timeslice
from targets import Settings, Target

SERVER_CPU = "0"
CLIENT_CPU = "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def stat_cpu_seconds(stat: str) -> float:
    """User + system CPU seconds in a /proc .../stat line (fields 14, 15)."""
    # The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        return stat_cpu_seconds(f.read())


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread name of the live threads (threads of one name summed):
    which of a server's threads ran, e.g. memcached's LRU maintainer beside its worker."""
    per_name: dict[str, float] = {}
    for path in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            with open(path) as f:
                stat = f.read()
        except OSError:  # the thread ended between the listing and the read
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        per_name[name] = per_name.get(name, 0.0) + stat_cpu_seconds(stat)
    return per_name


def stop(proc: subprocess.Popen, grace_s: float = 30.0, sig: int = signal.SIGTERM) -> None:
    """`sig` (SIGTERM; SIGINT makes strace or perf print their counts) to the
    PID, wait, then SIGKILL that PID if it is still there."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def running(target: Target, threads: int, memory_mb: int, wrapper: list[str] = (),
            start_timeout_s: float = 15.0, log_path: str | None = None) -> Iterator[tuple[subprocess.Popen, int]]:
    """Yield (process, port). `wrapper` (e.g. valgrind) goes between taskset and the server.

    taskset and the wrapper exec the next program, so the PID is the server's
    (or valgrind's, which runs the server in its own process).
    """
    port = free_port()
    argv = ["taskset", "-c", SERVER_CPU, *wrapper, *target.command(Settings(port, threads, memory_mb))]
    log = open(log_path or os.devnull, "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=timeslice.preexec)
    try:
        wait_port(port, proc, start_timeout_s)
        yield proc, port
    finally:
        stop(proc)
        log.close()
