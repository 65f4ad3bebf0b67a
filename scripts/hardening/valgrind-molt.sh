#!/bin/sh
# valgrind memcheck around the mixed binary, usable wherever a server binary
# path is expected (e.g. MOLT_C_BIN for tests/conformance/ and
# tests/server.rs, whose molt-slab/molt-seg targets cannot be redirected).
#
#   MOLT_VG_STORAGE  engine passed as --storage (default slab)
#   MOLT_VG_PROTOCOL implementation passed as --protocol (default c)
#   MOLT_VG_LOGDIR   where valgrind writes vg.<pid>.log (default /tmp/molt-vg)
#   MOLT_BIN         the binary (default target/release/molt of this repo)
#
# The first error ends the process (--exit-on-first-error, exit 99), so a
# test that talks to it sees the crash at its next request; leaks are
# reported at a clean exit (SIGTERM), definite leaks count as errors.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${MOLT_BIN:-$root/target/release/molt}
logdir=${MOLT_VG_LOGDIR:-/tmp/molt-vg}
mkdir -p "$logdir"
exec valgrind --tool=memcheck -q \
    --error-exitcode=99 --exit-on-first-error=yes \
    --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite \
    --log-file="$logdir/vg.%p.log" \
    "$bin" --storage "${MOLT_VG_STORAGE:-slab}" --protocol "${MOLT_VG_PROTOCOL:-c}" "$@"
