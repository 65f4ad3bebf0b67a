"""The servers `make ab` compares. A target is a name, a command line and an
availability check: adding one (e.g. a TLS variant) is one entry in TARGETS.

A command is built from the run's common settings (port, worker threads,
memory limit) so every target gets the same ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Callable

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# `make build` output, copied to BIN_DIR when a run starts: a rebuild during
# the run (the tree is shared) cannot change what is being measured.
BUILT = {"molt-c": "target/c-only/molt-c", "molt": "target/release/molt", "molt-bench": "target/release/molt-bench"}
BIN_DIR = os.path.join(ROOT, "target/ab/bin")
MOLT_C = os.path.join(BIN_DIR, "molt-c")
MOLT = os.path.join(BIN_DIR, "molt")
BENCH = os.path.join(BIN_DIR, "molt-bench")
MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"


def snapshot_binaries(built_in: str = ROOT) -> dict[str, str]:
    """Copy the binaries built in checkout `built_in` to BIN_DIR; return name -> source path."""
    os.makedirs(BIN_DIR, exist_ok=True)
    for name, rel in BUILT.items():
        src = os.path.join(built_in, rel)
        if os.access(src, os.X_OK):
            tmp = os.path.join(BIN_DIR, name + ".tmp")
            shutil.copy2(src, tmp)
            os.replace(tmp, os.path.join(BIN_DIR, name))
    return {name: os.path.join(built_in, rel) for name, rel in BUILT.items()}


CONN_LIMIT = 1024


@dataclass(frozen=True)
class Settings:
    port: int | str
    threads: int
    memory_mb: int
    conn_limit: int = CONN_LIMIT


def _help_mentions(binary: str, word: str) -> bool:
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return word in out.stdout + out.stderr


def _exists(path: str) -> Callable[[], str | None]:
    return lambda: None if os.access(path, os.X_OK) else f"{path} is missing (run make build)"


def _all(*checks: Callable[[], str | None]) -> Callable[[], str | None]:
    def check() -> str | None:
        for c in checks:
            why = c()
            if why:
                return why
        return None

    return check


def _bench_speaks_tls() -> str | None:
    return None if _help_mentions(BENCH, "--tls") else "molt-bench has no TLS client yet"


def _molt_speaks_tls() -> str | None:
    return None if _help_mentions(MOLT, "--tls") else "molt has no --tls-* flags yet"


def _molt(binary: str, *extra: str) -> Callable[[Settings], list[str]]:
    return lambda s: [binary, "-l", "127.0.0.1", "-p", str(s.port), "-t", str(s.threads),
                      "-m", str(s.memory_mb), "-c", str(s.conn_limit), "-U", "0", *extra]


def _memcached(*extra: str) -> Callable[[Settings], list[str]]:
    user = ["-u", "root"] if os.geteuid() == 0 else []
    return lambda s: [MEMCACHED, *user, "-l", "127.0.0.1", "-p", str(s.port), "-U", "0",
                      "-t", str(s.threads), "-m", str(s.memory_mb), "-c", str(s.conn_limit), *extra]


@dataclass(frozen=True)
class Target:
    name: str
    command: Callable[[Settings], list[str]]
    unavailable: Callable[[], str | None]  # None when it can run, else why not
    engine: str | None = None  # storage engine whose callgrind cost is reported
    bench_args: tuple[str, ...] = field(default=())  # extra molt-bench flags (e.g. TLS)


BASELINE = "molt-c"
REFERENCE = "memcached"

TARGETS: list[Target] = [
    Target("molt-c", _molt(MOLT_C), _exists(MOLT_C), engine="slab"),
    Target("molt slab", _molt(MOLT, "--storage", "slab"), _exists(MOLT), engine="slab"),
    Target("molt seg", _molt(MOLT, "--storage", "seg"), _exists(MOLT), engine="seg"),
    Target("memcached", _memcached(), _exists(MEMCACHED)),
    # TLS: the server flags are placeholders until molt grows them; both need
    # a TLS-capable molt-bench (bench_args then carry its TLS options).
    Target("molt seg+TLS", _molt(MOLT, "--storage", "seg", "--tls-cert", "ab-cert.pem", "--tls-key", "ab-key.pem"),
           _all(_exists(MOLT), _molt_speaks_tls, _bench_speaks_tls), engine="seg", bench_args=("--tls",)),
    Target("memcached -Z", _memcached("-Z", "-o", "ssl_chain_cert=ab-cert.pem,ssl_key=ab-key.pem"),
           _all(_exists(MEMCACHED), _bench_speaks_tls), bench_args=("--tls",)),
]


def split_available(targets: list[Target]) -> tuple[list[Target], dict[str, str]]:
    """The targets that can run, and why each of the others cannot."""
    ok, skipped = [], {}
    for t in targets:
        why = t.unavailable()
        if why:
            skipped[t.name] = why
        else:
            ok.append(t)
    return ok, skipped
