#!/bin/sh
# ASan+UBSan run of the C-only server (built by `make asan`):
#  1. the binary really is instrumented (nm shows __asan_init and UBSan
#     handlers) and the sanitizer options really make a report fatal (a
#     canary with a heap overflow and a UB shift must die);
#  2. conformance (the molt-c trials: filter `::molt-c::`), server, hostile
#     and protocol-fuzz suites (MOLT_TARGETS=molt-c where they loop over
#     targets) against it via MOLT_C_BIN: a report aborts the server, the
#     harness sees the dead server at the next request;
#  3. drive.sh: load, then SIGTERM, exit status 0 required (LeakSanitizer
#     runs at exit, a leak gives exit status 86);
#  4. no report file may exist in the log directory afterwards.
# Usage: asan.sh BINARY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
CC=${CC:-cc}
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
logdir=$(mktemp -d /tmp/molt-asan.XXXXXX)
# quarantine_size_mb: ASan keeps freed memory out of reuse to catch
# use-after-free; its default 256 MB would break the RSS bounds that the
# server and hostile suites assert (a set flood frees a lot). 32 MB still
# catches any use of recently freed memory.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:exitcode=86:detect_leaks=1:quarantine_size_mb=32:log_path=$logdir/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:exitcode=86:log_path=$logdir/ubsan"
export LSAN_OPTIONS="exitcode=86"

fail() {
    echo "asan: FAILED: $*" >&2
    for f in "$logdir"/*; do [ -f "$f" ] && { echo "---- $f" >&2; cat "$f" >&2; }; done
    exit 1
}

# 1. instrumented, and reports are fatal.
syms=$(nm "$bin" 2>/dev/null || true)
echo "$syms" | grep -q '__asan_init' || fail "$bin has no __asan_init: not ASan-instrumented"
echo "$syms" | grep -q '__ubsan_handle' || fail "$bin has no __ubsan_handle_*: not UBSan-instrumented"
canary=$(mktemp -d)
cat > "$canary/heap.c" <<'C'
#include <stdlib.h>
int main(int argc, char **argv) { (void)argv; volatile char *p = malloc(8); p[8 + argc - 1] = 1; free((void *)p); return 0; }
C
cat > "$canary/ub.c" <<'C'
int main(int argc, char **argv) { (void)argv; volatile int s = 31 + argc; volatile int r = 1 << s; (void)r; return 0; }
C
for c in heap ub; do
    $CC $SAN -O1 -o "$canary/$c" "$canary/$c.c"
    if ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:exitcode=86:log_path=$canary/log" \
       UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:exitcode=86:log_path=$canary/log" \
       "$canary/$c" 2>"$canary/stderr"; then
        fail "canary '$c' was not stopped: sanitizer reports are not fatal"
    fi
    if ls "$canary"/log.* >/dev/null 2>&1; then
        :
    elif grep -qE 'runtime error|AddressSanitizer' "$canary/stderr"; then
        # GCC's libubsan ignores log_path: its reports go to the server's
        # stderr (still fatal; the harness sees the dead server).
        echo "asan: note: $CC's UBSan ignores log_path; UBSan reports go to stderr"
    else
        fail "canary '$c' left no report"
    fi
    rm -f "$canary"/log.* "$canary/stderr"
done
rm -rf "$canary"
echo "asan: $bin is instrumented (ASan+UBSan); canaries abort as they must"

# 2. the suites against the sanitized molt-c.
cd "$root"
export MOLT_C_BIN="$bin"
suite() {
    what=$1
    shift
    # CC names the sanitizer compiler for molt-c only: unset for cargo, or
    # the cc crate rebuilds target/release/molt's C core with it.
    if env -u CC MOLT_TARGETS=molt-c cargo test --release --locked -q "$@" >"$logdir.out" 2>&1; then
        grep -E '^test result' "$logdir.out" || true
        # A filter or MOLT_TARGETS that matches nothing must not pass.
        if grep -q '^test result: ok\. 0 passed' "$logdir.out"; then
            rm -f "$logdir.out"
            fail "$what ran no test"
        fi
    else
        cat "$logdir.out"
        rm -f "$logdir.out"
        fail "$what under ASan"
    fi
    rm -f "$logdir.out"
    [ -z "$(ls -A "$logdir")" ] || fail "sanitizer report during $what"
}
suite conformance --test conformance -- ::molt-c::
suite "server/hostile/fuzz_proto suites" --test server --test hostile --test fuzz_proto

# 3. load, SIGTERM, leak check.
sh "$here/drive.sh" "$bin" || fail "drive.sh (load + clean exit + leak check)"
[ -z "$(ls -A "$logdir")" ] || fail "sanitizer report"
echo "asan: C-only molt-c: no ASan/UBSan/LSan report"

# 4. The mixed binary with its C core instrumented (stable Rust cannot
#    instrument the Rust side: -Zsanitizer is nightly-only). Built in its own
#    target dir with a compiler wrapper that adds the sanitizers to c-core/
#    files only; runs as MOLT_C_BIN through asan-molt.sh. ASAN_MIXED=0 skips.
if [ "${ASAN_MIXED:-1}" != 0 ]; then
    mixed_dir=$root/target/asan-mixed
    triple=$(rustc -vV | sed -n 's/^host: //p')
    env -u CFLAGS CC="$here/asan-cc.sh" MOLT_ASAN_REAL_CC=cc CARGO_TARGET_DIR="$mixed_dir" \
        RUSTFLAGS="-C link-arg=-fsanitize=address,undefined -C link-arg=-lasan -C link-arg=-lubsan" \
        cargo build --release --locked -q --target "$triple" --bin molt ||
        fail "building the mixed binary with ASan"
    export MOLT_ASAN_MIXED_BIN="$mixed_dir/$triple/release/molt"
    nm "$MOLT_ASAN_MIXED_BIN" | grep -q '__asan_report' || fail "mixed binary not instrumented"
    MOLT_ASAN_PRELOAD="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"
    export MOLT_ASAN_PRELOAD
    export MOLT_C_BIN="$here/asan-molt.sh"
    for engine in slab seg; do
        export MOLT_ASAN_STORAGE=$engine
        suite "conformance (mixed, $engine)" --test conformance -- ::molt-c::
        suite "server/hostile suites (mixed, $engine)" --test server --test hostile
        sh "$here/drive.sh" "$here/asan-molt.sh" || fail "drive.sh on the mixed binary ($engine)"
        [ -z "$(ls -A "$logdir")" ] || fail "sanitizer report (mixed, $engine)"
        echo "asan: mixed molt --storage $engine (C core instrumented): no report"
    done
fi
rm -rf "$logdir"
echo "asan: no ASan/UBSan/LSan report"
