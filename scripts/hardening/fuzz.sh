#!/bin/sh
# Fuzzing front end (make fuzz / make fuzz-smoke).
#
#   fuzz.sh smoke   libFuzzer on the C parser for FUZZ_SECONDS (default 20),
#                   after replaying every regression input; no Rust runs
#                   (their short budget runs in `cargo test` already).
#   fuzz.sh long    FUZZ_SECONDS (default 600) each, concurrently: libFuzzer
#                   on the C parser, the socket protocol fuzzer against every
#                   target (tests/fuzz_proto.rs) and the storage differential
#                   fuzzer (tests/fuzz_storage.rs).
#
# libFuzzer needs clang with compiler-rt (Debian: clang, libclang-rt-*-dev);
# it is installed when missing and running as root, else that part is
# skipped with a message. A crash leaves its input in target/fuzz/artifacts/;
# copy it to fuzz/regressions/proto/ (replayed by every run and by
# tests/fuzz_proto.rs) once fixed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
mode=${1:-smoke}
case $mode in
smoke) secs=${FUZZ_SECONDS:-20} ;;
long) secs=${FUZZ_SECONDS:-600} ;;
*) echo "usage: fuzz.sh smoke|long" >&2; exit 2 ;;
esac
out=target/fuzz
bin=$out/proto_fuzz
mkdir -p "$out/artifacts" "$out/corpus-proto"

have_libfuzzer() {
    command -v clang >/dev/null 2>&1 || return 1
    printf 'int LLVMFuzzerTestOneInput(const unsigned char*d,unsigned long n){(void)d;(void)n;return 0;}\n' >"$out/probe.c"
    clang -fsanitize=fuzzer -o "$out/probe" "$out/probe.c" >/dev/null 2>&1
}
if ! have_libfuzzer && [ "$(id -u)" = 0 ]; then
    echo "fuzz: installing clang (libFuzzer)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null 2>&1 || true; }
fi

libfuzzer_pid=""
if have_libfuzzer; then
    srcs=$(find c-core/src -name '*.c' ! -name main_c.c | sort)
    # shellcheck disable=SC2046,SC2086
    clang $(cat c-core/cflags.txt) -O1 -Ic-core/include -Ic-core/src \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
        -o "$bin" fuzz/proto_fuzz.c $srcs -lpthread
    export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1"
    export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
    # Regression inputs (and the seeds) must pass as they are.
    set -- fuzz/regressions/proto/*
    if [ -e "$1" ]; then
        "$bin" -runs=1 "$@" >"$out/regressions.log" 2>&1 ||
            { cat "$out/regressions.log"; echo "fuzz: a regression input fails again" >&2; exit 1; }
        echo "fuzz: $# regression input(s) replayed"
    fi
    cp -n fuzz/corpus/proto/* "$out/corpus-proto/" 2>/dev/null || true
    echo "fuzz: libFuzzer on the C parser for ${secs} s (log: $out/libfuzzer.log)"
    "$bin" -max_total_time="$secs" -dict=fuzz/proto.dict -max_len=131072 \
        -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/" "$out/corpus-proto" fuzz/corpus/proto \
        >"$out/libfuzzer.log" 2>&1 &
    libfuzzer_pid=$!
else
    echo "fuzz: clang with libFuzzer not available: skipping the in-process C parser fuzzer" >&2
fi

rc=0
if [ "$mode" = long ]; then
    cargo test --release --locked -q --test fuzz_storage --test fuzz_proto --no-run 2>/dev/null
    for t in fuzz_storage fuzz_proto; do
        FUZZ_SECONDS=$secs cargo test --release --locked -q --test $t -- --nocapture \
            >"$out/$t.log" 2>&1 &
        eval "pid_$t=\$!"
    done
    for t in fuzz_storage fuzz_proto; do
        eval "p=\$pid_$t"
        if wait "$p"; then
            grep -E '^fuzz_' "$out/$t.log" || true
        else
            cat "$out/$t.log"
            echo "fuzz: $t failed (log: $out/$t.log)" >&2
            rc=1
        fi
    done
fi
if [ -n "$libfuzzer_pid" ]; then
    if wait "$libfuzzer_pid"; then
        grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$out/libfuzzer.log" || true
        echo "fuzz: libFuzzer found nothing in ${secs} s"
    else
        tail -n 60 "$out/libfuzzer.log"
        echo "fuzz: libFuzzer found a crash; input in $out/artifacts/ (add it to fuzz/regressions/proto/)" >&2
        rc=1
    fi
fi
exit $rc
