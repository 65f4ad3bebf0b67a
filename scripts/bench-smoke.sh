#!/bin/sh
# Smoke run of molt-bench against a live molt: checks the JSON report and
# that every reply was verified correct (no timing assertion).
# Usage: bench-smoke.sh MOLT_BIN BENCH_BIN [server args...]
set -eu
molt=$1
bench=$2
shift 2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
json=$(mktemp)
"$molt" -l 127.0.0.1 -p "$port" "$@" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -f "$json"' EXIT
sh "$(dirname "$0")/wait-port.sh" "$port"
check() {
python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
res = r["results"]
assert r["tool"] == "molt-bench", r
for k in ("wrong", "errors", "unanswered", "misses"):
    assert res[k] == 0, (k, res[k])
assert res["ops"] > 0 and res["verified_replies"] > 0, res
for part in ("all", "get", "set"):
    lat = res["latency_us"][part]
    assert lat["count"] > 0 and lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"], (part, lat)
print(f"molt-bench smoke ({r['config']['mode']} loop): {res['ops']} ops verified, 0 wrong, 0 errors")
PY
}
"$bench" -p "$port" --flush --preload --expect-hits -c 4 -d 8 -w 0.5 -t 1 \
    --value-size 16-2048 --ratio 8:2 -m 4 --json "$json" -q
check
# One client thread, 100 connections, Poisson arrivals (make ab's workload (a)).
"$bench" -p "$port" --flush --preload --expect-hits --one-thread -c 100 \
    --arrivals poisson -r 5000 -w 0.2 -t 1 --value-size 16-2048 --json "$json" -q
check
