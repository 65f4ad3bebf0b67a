#!/bin/sh
# valgrind memcheck on the mixed binary (target/release/molt), both engines,
# each with both protocols (MOLT_VG_PROTOCOLS, default "c rust").
# Rust sanitizers need nightly (-Zsanitizer), so memcheck stands in for the
# C-inside-Rust build. Per engine:
#  1. the conformance transcripts on molt-c with valgrind-molt.sh as
#     MOLT_C_BIN (--exit-on-first-error: an error kills the server, the
#     harness sees it), one file (its modes at once) per cargo invocation so
#     that start-up stays under the harness's 10 s limit on a busy machine;
#  2. tests/server.rs (minus the RSS-bound test: valgrind's own RSS);
#  3. drive.sh: load, SIGTERM, exit status 0 = 0 errors and 0 definite leaks;
#  4. every valgrind log must be empty (-q prints only errors).
# Usage: valgrind.sh [ENGINE...]   (default: slab seg)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
engines=${*:-slab seg}
command -v valgrind >/dev/null 2>&1 || {
    [ "$(id -u)" = 0 ] || { echo "valgrind missing (apt-get install valgrind)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}
export MOLT_C_BIN="$here/valgrind-molt.sh"
files=$(ls tests/transcripts/*.txt | xargs -n1 basename | sed 's/\.txt$//')
cargo test --release --locked -q --test conformance --test server --no-run 2>/dev/null

check_logs() {
    bad=0
    for f in "$MOLT_VG_LOGDIR"/vg.*.log; do
        [ -f "$f" ] || continue
        if grep -v 'Warning: set address range perms' "$f" | grep -q .; then
            echo "---- $f" >&2
            cat "$f" >&2
            bad=1
        fi
    done
    [ $bad = 0 ] || { echo "valgrind: errors reported ($1)" >&2; exit 1; }
}

protocols=${MOLT_VG_PROTOCOLS:-c rust}
for protocol in $protocols; do
export MOLT_VG_PROTOCOL=$protocol
for engine in $engines; do
    export MOLT_VG_STORAGE=$engine
    MOLT_VG_LOGDIR=$(mktemp -d /tmp/molt-vg.XXXXXX)
    export MOLT_VG_LOGDIR
    start=$(date +%s)
    for f in $files; do
        # Trial names are <transcript>::<target>::<mode>.
        cargo test --release --locked -q --test conformance -- "$f::molt-c::" \
            >/tmp/molt-vg-conf.$$ 2>&1 ||
            { cat /tmp/molt-vg-conf.$$; check_logs "conformance $f"; exit 1; }
        ! grep -q '^test result: ok\. 0 passed' /tmp/molt-vg-conf.$$ ||
            { echo "valgrind: no molt-c trial of $f ran" >&2; exit 1; }
    done
    rm -f /tmp/molt-vg-conf.$$
    check_logs "conformance, $engine, $protocol"
    echo "valgrind[$engine, $protocol]: conformance transcripts clean ($(( $(date +%s) - start )) s)"
    cargo test --release --locked -q --test server -- --skip small_memory_limit 2>&1 | tail -n 2
    check_logs "server tests, $engine, $protocol"
    sh "$here/drive.sh" "$here/valgrind-molt.sh"
    check_logs "drive, $engine, $protocol"
    echo "valgrind[$engine, $protocol]: 0 errors, 0 definite leaks ($(( $(date +%s) - start )) s)"
    rm -rf "$MOLT_VG_LOGDIR"
done
done
