# molt - the front door. `make run` and `make test` work on a fresh Debian
# machine as root: they install what they need first.

CC        ?= cc
CFLAGS_FILE := c-core/cflags.txt
CORE_CFLAGS := $(shell cat $(CFLAGS_FILE)) -Ic-core/include -Ic-core/src
C_SOURCES := $(shell find c-core/src -name '*.c' | sort)
C_HEADERS := $(shell find c-core -name '*.h')
C_ONLY    := target/c-only/molt-c
MOLT      := target/release/molt
PORT      ?= 11211
ARGS      ?=

export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all build c-only run test deps test-deps lint cargo-test memccapable bench-smoke tls-clients ffi-header clean

all: build

# ---- dependencies --------------------------------------------------------
# bindgen needs libclang; the conformance suite's reference peer and the
# libmemcached tools are Debian packages too.
deps:
	@sh scripts/ensure-deps.sh build

test-deps:
	@sh scripts/ensure-deps.sh test

# ---- builds --------------------------------------------------------------
build: deps $(C_ONLY)
	cargo build --release --locked --workspace

# The C-only baseline: the same sources and flags, no Rust, no cargo.
c-only: $(C_ONLY)
$(C_ONLY): $(C_SOURCES) $(C_HEADERS) $(CFLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) -o $@ $(C_SOURCES) -lpthread

run: build
	$(MOLT) -l 127.0.0.1 -p $(PORT) $(ARGS)

# ---- checks --------------------------------------------------------------
test: deps test-deps build lint cargo-test memccapable pylibmc-binary bench-smoke tls-clients asan fuzz-smoke no-cc ab-selftest
	@echo "make test: all checks passed"

lint:
	cargo fmt --all -- --check
	cargo clippy --release --locked --workspace --all-targets -- -D warnings

cargo-test:
	cargo test --release --locked --workspace --no-fail-fast

# libmemcached's protocol checker against both binaries; its binary tests
# (-b) against the Rust protocol, the only one that speaks binary.
memccapable: build
	@sh scripts/memccapable.sh $(C_ONLY)
	@sh scripts/memccapable.sh $(MOLT) --storage slab
	@sh scripts/memccapable.sh $(MOLT) --storage seg
	@sh scripts/memccapable.sh $(MOLT) --protocol rust --storage slab
	@sh scripts/memccapable.sh $(MOLT) --protocol rust --storage seg
	@sh scripts/memccapable.sh target/release/molt-rs
	@sh scripts/memccapable.sh -b $(MOLT) --protocol rust --storage slab
	@sh scripts/memccapable.sh -b $(MOLT) --protocol rust --storage seg
	@sh scripts/memccapable.sh -b target/release/molt-rs

# molt-bench against a live server: JSON shape and zero wrong replies.
bench-smoke: build
	@sh scripts/bench-smoke.sh $(MOLT) target/release/molt-bench --storage slab
	@sh scripts/bench-smoke.sh $(MOLT) target/release/molt-bench --storage seg

# TLS with clients outside Rust: Python's ssl module and openssl s_client.
tls-clients: build
	@sh scripts/tls/run.sh $(MOLT)

# Refresh the committed cbindgen header after changing ffi/src (make test
# fails while it is stale).
ffi-header:
	cargo run --release --locked -q -p molt-ffi --example print_header > ffi/include/molt_ffi.h.new
	mv ffi/include/molt_ffi.h.new ffi/include/molt_ffi.h

# Further targets (ab, asan, fuzz, ...) live one file per job in mk/.
-include $(sort $(wildcard mk/*.mk))

clean:
	cargo clean
	rm -rf target/c-only
