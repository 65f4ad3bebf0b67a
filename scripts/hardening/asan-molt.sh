#!/bin/sh
# The mixed binary with its C core ASan/UBSan-instrumented (built by
# asan.sh into target/asan-mixed), usable as MOLT_C_BIN like
# valgrind-molt.sh. Rust code is not instrumented (that needs nightly
# -Zsanitizer); the runtime is preloaded because rustc links with
# -nodefaultlibs, so libasan cannot come first in the library list otherwise.
#   MOLT_ASAN_STORAGE  engine (default slab)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${MOLT_ASAN_MIXED_BIN:-$root/target/asan-mixed/x86_64-unknown-linux-gnu/release/molt}
pre=${MOLT_ASAN_PRELOAD:-"$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"}
LD_PRELOAD="$pre${LD_PRELOAD:+ $LD_PRELOAD}" exec "$bin" --storage "${MOLT_ASAN_STORAGE:-slab}" "$@"
