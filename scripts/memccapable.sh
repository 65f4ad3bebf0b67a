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
i=0
until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; do
    i=$((i+1)); [ $i -lt 100 ] || { echo "server did not start" >&2; exit 1; }
    sleep 0.05
done
out=$(memccapable -a -h 127.0.0.1 -p "$port" 2>&1) || { echo "$out"; echo "memccapable FAILED against $bin $*"; exit 1; }
echo "$out" | tail -n 3
echo "memccapable -a passed against $bin $*"
