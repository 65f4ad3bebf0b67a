"""The servers `make ab` compares. A target is a name, a command line and an
availability check: adding one (e.g. a TLS variant) is one entry in TARGETS.

A command is built from the run's common settings (port, worker threads,
memory limit) so every target gets the same ones.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# `make build` output, copied to BIN_DIR when a run starts: a rebuild during
# the run (the tree is shared) cannot change what is being measured.
BUILT = {"molt-c": "target/c-only/molt-c", "molt": "target/release/molt", "molt-rs": "target/release/molt-rs",
         "molt-bench": "target/release/molt-bench"}
BIN_DIR = os.path.join(ROOT, "target/ab/bin")
MOLT_C = os.path.join(BIN_DIR, "molt-c")
MOLT = os.path.join(BIN_DIR, "molt")
MOLT_RS = os.path.join(BIN_DIR, "molt-rs")
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
    return None if _help_mentions(MOLT, "--tls-cert") else "molt has no --tls-cert flag yet"


# Test PKI for the TLS targets: a CA and a server certificate for localhost /
# 127.0.0.1 (EC P-256), made with openssl in this run's temporary directory
# when the TLS targets' availability is checked, removed when the run exits.
TLS_DIR = os.path.join(tempfile.gettempdir(), f"molt-ab-tls-{os.getpid()}")
TLS_CA = os.path.join(TLS_DIR, "ca.pem")
TLS_CERT = os.path.join(TLS_DIR, "server-cert.pem")
TLS_KEY = os.path.join(TLS_DIR, "server-key.pem")


def make_test_pki(directory: str) -> None:
    """ca.pem, ca-key.pem, server-cert.pem, server-key.pem (PKCS#8) in `directory`."""
    os.makedirs(directory, mode=0o700, exist_ok=True)

    def run(*argv: str) -> None:
        p = subprocess.run(["openssl", *argv], cwd=directory, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(argv)}: {p.stderr.strip()}")

    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca-key.pem")
    run("req", "-x509", "-new", "-key", "ca-key.pem", "-subj", "/CN=molt ab test CA", "-days", "7",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", "ca.pem")
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "server-key.pem")
    run("req", "-new", "-key", "server-key.pem", "-subj", "/CN=localhost", "-out", "server.csr")
    with open(os.path.join(directory, "server-ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-days", "7", "-extfile", "server-ext.cnf", "-out", "server-cert.pem")


def _tls_pki() -> str | None:
    if os.path.exists(TLS_CERT):
        return None
    if not shutil.which("openssl"):
        return "openssl is missing (needed to make the test certificates)"
    try:
        make_test_pki(TLS_DIR)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        return f"cannot make test certificates: {e}"
    atexit.register(shutil.rmtree, TLS_DIR, True)
    return None


# molt-bench flags for a TLS target: verify against the test CA (the
# certificate names localhost), resume sessions (the default).
TLS_BENCH_ARGS = ("--tls", "--tls-ca", TLS_CA, "--tls-server-name", "localhost")


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
    # A run-time variant of another target (the Rust protocol, shadow mode):
    # measured at the maxima, at the main load and under callgrind, where it
    # differs from its base. The load sweep, -t 2 and the storage figures
    # (memory, capacity, large heap: the engine's, shared with the base) are
    # the base target's; this keeps the full run within 30 minutes.
    variant: bool = False


BASELINE = "molt-c"
REFERENCE = "memcached"
TLS_REFERENCE = "memcached -Z"  # what the TLS figures compare against

TARGETS: list[Target] = [
    Target("molt-c", _molt(MOLT_C), _exists(MOLT_C), engine="slab"),
    Target("molt slab", _molt(MOLT, "--storage", "slab"), _exists(MOLT), engine="slab"),
    Target("molt seg", _molt(MOLT, "--storage", "seg"), _exists(MOLT), engine="seg"),
    # The same with the Rust protocol (--protocol rust), beside the C one.
    Target("molt slab rs", _molt(MOLT, "--protocol", "rust", "--storage", "slab"), _exists(MOLT), engine="slab",
           variant=True),
    Target("molt seg rs", _molt(MOLT, "--protocol", "rust", "--storage", "seg"), _exists(MOLT), engine="seg",
           variant=True),
    # The all-Rust server (rust/server): seg and the Rust protocol only. No
    # engine figure: nothing stands between protocol and engine to measure
    # at (no storage.h entry points; the calls are inlined).
    Target("molt-rs", _molt(MOLT_RS), _exists(MOLT_RS)),
    # Shadow mode (--shadow-storage): slab answers, seg runs every request
    # too; beside "molt slab" it gives the cost of shadowing. No engine
    # figure: the request runs through two engines and the comparison.
    Target("molt slab+shadow seg", _molt(MOLT, "--storage", "slab", "--shadow-storage", "seg"),
           _all(_exists(MOLT), lambda: None if _help_mentions(MOLT, "--shadow-storage")
                else "molt has no --shadow-storage flag yet"), variant=True),
    Target("memcached", _memcached(), _exists(MEMCACHED)),
    # TLS: both need a TLS-capable molt-bench (bench_args carry its TLS
    # options) and the test certificates (made on the availability check).
    Target("molt seg+TLS", _molt(MOLT, "--storage", "seg", "--tls-cert", TLS_CERT, "--tls-key", TLS_KEY),
           _all(_exists(MOLT), _molt_speaks_tls, _exists(BENCH), _bench_speaks_tls, _tls_pki), engine="seg",
           bench_args=TLS_BENCH_ARGS),
    # The all-Rust server over rustls with its own crypto provider (graviola).
    Target("molt-rs+TLS", _molt(MOLT_RS, "--tls-cert", TLS_CERT, "--tls-key", TLS_KEY),
           _all(_exists(MOLT_RS), _exists(BENCH), _bench_speaks_tls, _tls_pki), bench_args=TLS_BENCH_ARGS),
    Target("memcached -Z", _memcached("-Z", "-o", f"ssl_chain_cert={TLS_CERT},ssl_key={TLS_KEY}"),
           _all(_exists(MEMCACHED), _exists(BENCH), _bench_speaks_tls, _tls_pki), bench_args=TLS_BENCH_ARGS),
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


def available_plaintext(names: str) -> list[Target]:
    """The plaintext targets named in a comma-separated list that can run (a
    note on stderr for each of the others)."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    ok, skipped = split_available([t for t in TARGETS if t.name in wanted and not t.bench_args])
    for name, why in skipped.items():
        print(f"skipping {name}: {why}", file=sys.stderr)
    return ok
