"""molt over TLS vs memcached -Z, side by side: requests/s over TLS and
handshakes/s (full and resumed, as make ab's handshake figures measure them:
measure_handshakes.py), alternating targets A B C A B C ...

Usage: tls_compare.py [--rounds 3] [--threads 1 2] [--seconds 5] [--out FILE]

Servers run pinned to CPU 0 (taskset -c 0), molt-bench to CPU 1. Uses the
binaries in target/release (make build) and memcached from PATH. Prints a
table per figure (median, min-max, per-round ratio to memcached -Z) and
writes every raw run to --out (JSON). Client and server CPU use (per cent of
one CPU over the molt-bench run) tell which side was saturated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import measure_handshakes
import targets
from server import CLIENT_CPU, SERVER_CPU, free_port, stop, wait_port

MOLT = os.path.join(targets.ROOT, "target/release/molt")
BENCH = os.path.join(targets.ROOT, "target/release/molt-bench")
REF = targets.TLS_REFERENCE


def server_argv(name: str, port: int, threads: int, pki: str) -> list[str]:
    cert, key = os.path.join(pki, "server-cert.pem"), os.path.join(pki, "server-key.pem")
    common = ["-l", "127.0.0.1", "-p", str(port), "-t", str(threads), "-m", "64", "-c", "1024", "-U", "0"]
    if name.startswith("molt"):
        storage = name.split()[1]
        return [MOLT, *common, "--storage", storage, "--tls-cert", cert, "--tls-key", key]
    user = ["-u", "root"] if os.geteuid() == 0 else []
    return [targets.MEMCACHED, *user, *common, "-Z", "-o", f"ssl_chain_cert={cert},ssl_key={key}"]


def cpu_secs(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def figures(seconds: float) -> dict[str, list[str]]:
    w = ["-w", "1", "-t", str(seconds)]
    return {
        "rps": ["--flush", "--preload", "--expect-hits", "-c", "8", "-d", "16", "--ratio", "9:1",
                "--value-size", "100", *w],
        "hs_full": measure_handshakes.bench_args("full", seconds, 1),
        "hs_resumed": measure_handshakes.bench_args("resumed", seconds, 1),
    }


def run_one(name: str, threads: int, fig: str, args: list[str], pki: str) -> dict:
    port = free_port()
    argv = ["taskset", "-c", SERVER_CPU, *server_argv(name, port, threads, pki)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, 15)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            bench = ["taskset", "-c", CLIENT_CPU, BENCH, "-p", str(port), "-q", "--tls", "--tls-ca",
                     os.path.join(pki, "ca.pem"), *args, "--json", out.name]
            s0, r0, t0 = cpu_secs(proc.pid), os.times(), time.monotonic()
            p = subprocess.run(bench, capture_output=True, text=True, timeout=120)
            s1, r1, t1 = cpu_secs(proc.pid), os.times(), time.monotonic()
            if p.returncode != 0:
                raise RuntimeError(f"molt-bench failed ({p.returncode}): {' '.join(bench)}\n{p.stderr[-1500:]}")
            res = json.load(open(out.name))["results"]
    finally:
        stop(proc)
    wall = t1 - t0
    rec = {"target": name, "threads": threads, "figure": fig, "loadavg": os.getloadavg()[0],
           "server_cpu_pct": round(100 * (s1 - s0) / wall, 1),
           "client_cpu_pct": round(100 * ((r1.children_user + r1.children_system)
                                          - (r0.children_user + r0.children_system)) / wall, 1),
           "server": " ".join(argv).replace(pki, "$PKI").replace(str(port), "PORT"),
           "bench": " ".join(bench).replace(pki, "$PKI").replace(str(port), "PORT")}
    if fig == "rps":
        rec.update(value=res["ops_per_sec"], p50_us=res["latency_us"]["all"]["p50"],
                   p99_us=res["latency_us"]["all"]["p99"], wrong=res["wrong"], errors=res["errors"])
    else:
        h = measure_handshakes.handshakes_of(res)
        rec.update(value=h["per_sec"], full=h["full"], resumed=h["resumed"], p50_us=h["latency_us"]["p50"],
                   p99_us=h["latency_us"]["p99"], errors=res["errors"])
    return rec


def summarize(runs: list[dict], names: list[str]) -> str:
    lines = []
    for threads in sorted({r["threads"] for r in runs}):
        for fig in ("rps", "hs_full", "hs_resumed"):
            sel = [r for r in runs if r["threads"] == threads and r["figure"] == fig]
            if not sel:
                continue
            lines.append(f"\n-t {threads}  {fig}  (value = {'ops/s' if fig == 'rps' else 'handshakes/s'})")
            ref = {r["round"]: r["value"] for r in sel if r["target"] == REF}
            for n in names:
                v = [r for r in sel if r["target"] == n]
                vals = [r["value"] for r in v]
                ratios = [r["value"] / ref[r["round"]] for r in v if r["round"] in ref]
                extra = ""
                if fig != "rps":
                    extra = f" resumed/total {sum(r['resumed'] for r in v)}/{sum(r['full'] + r['resumed'] for r in v)}"
                lines.append(
                    f"  {n:<16} median {statistics.median(vals):>10,.0f}  min-max {min(vals):,.0f}-{max(vals):,.0f}"
                    f"  ratio vs {REF}: median {statistics.median(ratios):.3f}"
                    f" (rounds {', '.join(f'{x:.3f}' for x in ratios)})"
                    f"  p50/p99 us {statistics.median(r['p50_us'] for r in v):.0f}/"
                    f"{statistics.median(r['p99_us'] for r in v):.0f}"
                    f"  cpu srv/cli % {statistics.median(r['server_cpu_pct'] for r in v):.0f}/"
                    f"{statistics.median(r['client_cpu_pct'] for r in v):.0f}{extra}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--targets", nargs="+", default=["molt seg", "molt slab", REF])
    ap.add_argument("--out", default=os.path.join(targets.ROOT, "target/ab/tls_compare.json"))
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="tls-compare-") as pki:
        targets.make_test_pki(pki)
        for threads in a.threads:
            for rnd in range(a.rounds):
                for fig, args in figures(a.seconds).items():
                    for name in a.targets:  # A B C, then the next figure, then the next round
                        try:
                            rec = run_one(name, threads, fig, args, pki)
                        except Exception as e:  # keep going; the failure is recorded
                            rec = {"target": name, "threads": threads, "figure": fig, "error": str(e)}
                        rec["round"] = rnd
                        runs.append(rec)
                        print(f"[{time.strftime('%H:%M:%S')}] -t {threads} round {rnd + 1} {fig:<10} {name:<14} "
                              + (f"{rec['value']:>10,.0f}  srv {rec['server_cpu_pct']}% cli {rec['client_cpu_pct']}%"
                                 f"  load {rec['loadavg']:.2f}" if "value" in rec else "FAILED " + rec["error"][:300]),
                              flush=True)
                        with open(a.out, "w") as f:
                            json.dump(runs, f, indent=1)
    ok = [r for r in runs if "value" in r]
    print(summarize(ok, a.targets))
    return 1 if len(ok) != len(runs) else 0


if __name__ == "__main__":
    sys.exit(main())
