#!/bin/sh
# Run libmemcached's memccapable tests against a molt binary started on a
# free loopback port: the ASCII tests (-a), or with -b first the binary ones
# (molt speaks binary with --protocol rust only).
# Usage: memccapable.sh [-b] BINARY [ARGS...]
set -eu
mode=-a
if [ "${1:-}" = -b ]; then
    mode=-b
    shift
fi
bin=$1
shift
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" -l 127.0.0.1 -p "$port" "$@" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
sh "$(dirname "$0")/wait-port.sh" "$port"
out=$(memccapable $mode -h 127.0.0.1 -p "$port" 2>&1) || { echo "$out"; echo "memccapable $mode FAILED against $bin $*"; exit 1; }
# memccapable exits 0 even when a test fails: judge its own tally too
if echo "$out" | grep -q '\[FAIL\]'; then
    echo "$out"; echo "memccapable $mode FAILED against $bin $*"; exit 1
fi
echo "$out" | tail -n 3
echo "memccapable $mode passed against $bin $*"
