#!/bin/sh
# Install what `make build` (arg: build) or `make test` (arg: test) needs,
# only when it is missing. Debian packages; run as root on a fresh machine.
set -eu
what=${1:-build}

need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if [ "$what" = build ]; then
    command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
    have_pkg libclang-dev || need="$need libclang-dev"
    command -v make >/dev/null 2>&1 || need="$need make"
else
    command -v memcached >/dev/null 2>&1 || need="$need memcached"
    command -v memccapable >/dev/null 2>&1 || need="$need libmemcached-tools"
    # the pool test (twemproxy), the sanitizer build and libFuzzer (clang)
    command -v nutcracker >/dev/null 2>&1 || [ -x /usr/sbin/nutcracker ] || need="$need nutcracker"
    command -v clang >/dev/null 2>&1 || need="$need clang"
    command -v openssl >/dev/null 2>&1 || need="$need openssl"
    command -v python3 >/dev/null 2>&1 || need="$need python3"
    # the binary protocol test client (scripts/pylibmc)
    have_pkg python3-pylibmc || need="$need python3-pylibmc"
fi

if [ -n "$need" ]; then
    echo "installing:$need"
    if [ "$(id -u)" != 0 ]; then
        echo "error: missing packages:$need (run as root, or install them)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $need >/dev/null
fi

# Debian's memcached package starts a service on 11211; the tests start
# their own servers on free ports and never need it.
if [ "$what" = test ] && command -v systemctl >/dev/null 2>&1; then
    systemctl stop memcached >/dev/null 2>&1 || true
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found (install a stable Rust toolchain with rustup)" >&2
    exit 1
fi
