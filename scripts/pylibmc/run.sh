#!/bin/sh
# pylibmc with binary=True (Debian python3-pylibmc) against memcached 1.6
# (proving the client script), then `BINARY --protocol rust` on slab and
# seg; and against the C protocol, which does not speak binary, the script
# must fail (proving pylibmc really spoke binary). Servers on free loopback
# ports, stopped by PID. Usage: scripts/pylibmc/run.sh BINARY
set -eu
[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 2; }
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
# Debian's python3-pylibmc is for Debian's python3, which another python3
# (pyenv) may shadow on PATH
py=python3
$py -c 'import pylibmc' 2>/dev/null || py=/usr/bin/python3
$py -c 'import pylibmc' 2>/dev/null || { echo "FAIL pylibmc: python3-pylibmc is not installed (make test-deps)" >&2; exit 1; }
pid=""
stop() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }; }
trap stop EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# run NAME EXPECT(pass|fail) PROGRAM ARGS...
run() {
    name=$1 expect=$2
    shift 2
    port=$(free_port)
    "$@" -l 127.0.0.1 -p "$port" &
    pid=$!
    sh "$here/../wait-port.sh" "$port"
    if timeout 60 $py "$here/client.py" "$port" >"${TMPDIR:-/tmp}/pylibmc.$$" 2>&1; then got=pass; else got=fail; fi
    stop
    if [ "$got" != "$expect" ]; then
        cat "${TMPDIR:-/tmp}/pylibmc.$$"; rm -f "${TMPDIR:-/tmp}/pylibmc.$$"
        echo "FAIL pylibmc binary against $name: expected $expect, got $got" >&2
        exit 1
    fi
    rm -f "${TMPDIR:-/tmp}/pylibmc.$$"
    echo "pylibmc binary against $name: $got (as expected)"
}
if command -v memcached >/dev/null 2>&1; then
    run memcached pass memcached -U 0 -u nobody
fi
run "molt --protocol rust --storage slab" pass "$bin" --protocol rust --storage slab
run "molt --protocol rust --storage seg" pass "$bin" --protocol rust --storage seg
run "molt --protocol c (no binary)" fail "$bin" --protocol c --storage slab
