#!/bin/sh
# Start a (sanitized / valgrind-wrapped) server, exercise it, stop it with
# SIGTERM and require a clean exit: exit status 0 means no sanitizer report
# and no leak (ASan/LSan exitcode, valgrind --error-exitcode).
#
# Usage: drive.sh SERVER [server args...]
# Load: every transcript's requests replayed (replay.py, answers drained,
# not judged: conformance judges them), memccapable -a, a verified
# molt-bench run, a few hostile inputs, then SIGTERM.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
server=$1
shift
bench=${MOLT_BENCH_BIN:-$root/target/release/molt-bench}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" -l 127.0.0.1 -p "$port" -c 200 "$@" &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
# Sanitized/valgrind'd start-up is slow: allow 60 s.
i=0
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 600 ] || { echo "drive: $server not listening after 60 s" >&2; exit 1; }
    kill -0 $pid 2>/dev/null || { echo "drive: $server died during start-up" >&2; exit 1; }
    sleep 0.1
done
python3 "$here/replay.py" "$port" "$root/tests/transcripts"
if command -v memccapable >/dev/null 2>&1; then
    memccapable -a -h 127.0.0.1 -p "$port" >/dev/null 2>&1 ||
        { echo "drive: memccapable -a failed" >&2; exit 1; }
    echo "drive: memccapable -a passed"
fi
if [ -x "$bench" ]; then
    json=$(mktemp)
    "$bench" -p "$port" --flush --preload --expect-hits -c 4 -d 8 -w 0.5 -t 2 -k 2000 \
        --value-size 16-4096 --ratio 8:2 -m 4 --json "$json" -q >/dev/null
    python3 - "$json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
for k in ("wrong", "errors", "unanswered", "misses"):
    assert res[k] == 0, (k, res[k])
print(f"drive: molt-bench {res['ops']} ops verified, 0 wrong")
PY
    rm -f "$json"
fi
python3 "$here/replay.py" --hostile "$port"
kill -0 $pid 2>/dev/null || { echo "drive: server died under load" >&2; wait $pid || true; exit 1; }
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
trap - EXIT
if [ $rc -ne 0 ]; then
    echo "drive: $server $* exited with status $rc after SIGTERM (sanitizer/valgrind report or leak)" >&2
    exit 1
fi
echo "drive: $server $* clean exit after SIGTERM"
