#!/usr/bin/env bash
# Warm restart figures (rust/seg/README.md): a -m 1024 seg heap filled by
# molt-bench, then stopped with SIGTERM (save) and started again on the
# same memory file (restore); the server's own log lines give the save and
# restore times, /proc the RSS; a fixed read workload (gets only, same
# seed) gives the hit ratio right after the warm start, and after a cold
# one (a start without the file).
#   scripts/warm_restart_figures.sh [molt|molt-rs]
# Environment: KEYS (10000000), READS (1000000), PORT (22122), DIR (a
# fresh temp dir; the file needs ~1.1 GiB there).
set -euo pipefail
server=${1:-molt}
bin=target/release/$server
bench=target/release/molt-bench
keys=${KEYS:-10000000}
reads=${READS:-1000000}
port=${PORT:-22122}
dir=${DIR:-$(mktemp -d)}
file=$dir/cache
log=$dir/server.log
pid=

start() { # extra args...
    "$bin" --storage seg -m 1024 -t 2 -v -l 127.0.0.1 -p "$port" "$@" 2>>"$log" &
    pid=$!
    for _ in $(seq 600); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null; then
            return
        fi
        sleep 0.1
    done
    echo "server did not start" >&2
    exit 1
}

stop() {
    kill -TERM "$pid"
    wait "$pid"
}

rss() {
    awk '/^VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$pid/status"
}

# CPU the server has used so far (user + system): right after a start,
# what the restore cost, whatever else runs on the machine.
cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f s", ($14 + $15) / hz}' "/proc/$pid/stat"
}

read_workload() {
    "$bench" -p "$port" --keys "$keys" --ratio 1:0 -c 2 -d 16 -n "$reads" -t 120 -w 0 \
        --seed 7 -q | grep -o 'hit ratio [0-9.]*%'
}

trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
start -e "$file"
"$bench" -p "$port" --keys "$keys" --preload --ratio 1:0 -c 2 -d 16 -n 1 -w 0 -q >/dev/null
echo "$server, -m 1024 filled with $keys keys of 100 bytes: RSS $(rss)"
echo "before the stop: $(read_workload)"
stop
grep -o 'saved .*' "$log" | tail -1
echo "file: $(du -m "$file" | cut -f1) MiB"
start -e "$file"
grep -o 'restored .*' "$log" | tail -1
echo "after the warm start: CPU $(cpu), RSS $(rss), $(read_workload)"
kill -INT "$pid" # (SIGINT saves too; the cold start below has no file)
wait "$pid"
start
echo "after a cold start: CPU $(cpu), RSS $(rss), $(read_workload)"
stop
