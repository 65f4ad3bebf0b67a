#!/bin/sh
# TLS against real clients outside Rust: Python's ssl module and the openssl
# CLI. Usage: scripts/tls/run.sh BINARY  (the mixed binary, target/release/molt)
#
# Generates a test CA, a server certificate (localhost, 127.0.0.1), a client
# certificate and one from another CA with the openssl CLI; starts BINARY
# twice on free loopback ports (TLS, and mutual TLS); runs client.py and the
# openssl s_client checks; stops both servers by PID. Exits non-zero on any
# failure.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 2; }
case $1 in /*) bin=$1 ;; *) bin=$(pwd)/$1 ;; esac
[ -x "$bin" ] || { echo "FAIL tls: $bin is not an executable" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/molt-tls-script.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    [ -n "${MOLT_TLS_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL tls: $*" >&2; exit 1; }

# ---- certificates -----------------------------------------------------------
cd "$dir"
ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $*"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=molt test CA" -keyout ca.key -out ca.pem
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=rogue CA" -keyout rogueca.key -out rogueca.pem
issue() { # NAME CA EXT
    ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
    printf '%s\n' "$3" > "$1.ext"
    ossl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
        -days 2 -extfile "$1.ext" -out "$1.pem"
}
issue server ca "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
issue client ca "extendedKeyUsage=clientAuth"
issue rogue rogueca "extendedKeyUsage=clientAuth"

# ---- servers ------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
"$bin" -l 127.0.0.1 -p "$port" --tls-cert server.pem --tls-key server.key 2>tls.log &
pids="$pids $!"
mport=$(free_port)
"$bin" -l 127.0.0.1 -p "$mport" --tls-cert server.pem --tls-key server.key \
    --tls-ca ca.pem 2>mtls.log &
pids="$pids $!"
sh "$here/../wait-port.sh" "$port" || fail "TLS server did not start: $(cat tls.log)"
sh "$here/../wait-port.sh" "$mport" || fail "mutual-TLS server did not start: $(cat mtls.log)"

# ---- Python ssl ---------------------------------------------------------------
python3 "$here/client.py" "$dir" "$port" "$mport" || fail "python ssl checks"

# ---- openssl s_client ---------------------------------------------------------
# Requests end in `quit`: the server closes after its replies and s_client
# (-quiet implies -ign_eof) exits on that close.
sclient() { # PORT [ARGS...] < requests
    p=$1
    shift
    timeout 10 openssl s_client -connect "127.0.0.1:$p" -servername localhost \
        -CAfile ca.pem -verify_return_error "$@" 2>>s_client.err
}
crlf() { printf '%s\r\n' "$@"; }

out=$(crlf "set ossl 0 0 5" "hello" "get ossl" "quit" | sclient "$port" -quiet) ||
    fail "s_client set/get exited non-zero: $(cat s_client.err)"
want=$(crlf STORED "VALUE ossl 0 5" hello END)
[ "$out" = "$want" ] || fail "s_client set/get: got [$out]"
echo "ok   openssl s_client: set/get round trip"

out=$(crlf "get ossl" "quit" | sclient "$mport" -quiet -cert client.pem -key client.key) ||
    fail "s_client with a client certificate exited non-zero: $(cat s_client.err)"
[ "$out" = "$(crlf END)" ] || fail "s_client mutual TLS: got [$out]"
if out=$(crlf "version" "quit" | sclient "$mport" -quiet 2>&1) &&
    printf '%s' "$out" | grep -q VERSION; then
    fail "s_client without a client certificate was served by the mutual-TLS port"
fi
echo "ok   openssl s_client: mutual TLS accepted with a certificate, refused without"

for v in -tls1_3 -tls1_2; do
    rm -f sess.pem
    out=$(crlf "version" "quit" | sclient "$port" "$v" -ign_eof -sess_out sess.pem) ||
        fail "s_client $v (first) exited non-zero"
    printf '%s' "$out" | grep -q "^New, TLSv1" || fail "s_client $v: first connection not New"
    [ -s sess.pem ] || fail "s_client $v: no session saved"
    out=$(crlf "version" "quit" | sclient "$port" "$v" -ign_eof -sess_in sess.pem) ||
        fail "s_client $v (second) exited non-zero"
    printf '%s' "$out" | grep -q "^Reused, TLSv1" ||
        fail "s_client $v: session not reused: $(printf '%s' "$out" | grep -E '^(New|Reused)')"
    printf '%s' "$out" | grep -q "^VERSION " || fail "s_client $v: no VERSION reply"
done
resumed=$(crlf stats quit | sclient "$port" -quiet | tr -d '\r' |
    awk '$2 == "tls_resumed_sessions" { print $3 }')
# Python resumed 2 sessions, s_client 2 more.
[ "${resumed:-0}" -ge 4 ] || fail "tls_resumed_sessions is ${resumed:-missing}, expected >= 4"
echo "ok   openssl s_client: session resumption (sess_out/sess_in, TLS 1.3 and 1.2)"

# ---- both servers still up, then stopped by PID ---------------------------------
for p in $pids; do
    kill -0 "$p" 2>/dev/null || fail "server $p died; logs: $(cat tls.log mtls.log)"
done
for p in $pids; do kill -TERM "$p"; done
for p in $pids; do wait "$p" || fail "server $p exited with $? after SIGTERM"; done
pids=""
echo "scripts/tls: all TLS client checks passed against $bin"
