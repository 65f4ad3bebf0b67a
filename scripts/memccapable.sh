#!/bin/sh
# Run libmemcached's memccapable ASCII tests against a molt binary started on
# a free loopback port. Usage: memccapable.sh BINARY [ARGS...]
set -eu
bin=$1
shift
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" -l 127.0.0.1 -p "$port" "$@" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
sh "$(dirname "$0")/wait-port.sh" "$port"
out=$(memccapable -a -h 127.0.0.1 -p "$port" 2>&1) || { echo "$out"; echo "memccapable FAILED against $bin $*"; exit 1; }
echo "$out" | tail -n 3
echo "memccapable -a passed against $bin $*"
