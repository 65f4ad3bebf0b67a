#!/bin/sh
# C compiler wrapper for the mixed ASan build (asan.sh): the cc crate runs
# it for every C file of every crate; only molt's own C core (c-core/) gets
# the sanitizers, third-party C (e.g. aws-lc) is compiled unchanged.
real=${MOLT_ASAN_REAL_CC:-cc}
case "$*" in
*c-core/*) exec $real "$@" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all ;;
esac
exec $real "$@"
