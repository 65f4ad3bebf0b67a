# make bench-ir: instructions per storage operation for slab and seg through
# the storage.h seam (benches/storage_ir.rs, gungraun = callgrind): get hit,
# get miss, set 64 B, set 1 KiB, delete, incr, decr (a 7-digit counter
# padded in place), 90/10 mix over 1M keys; and
# per request through the protocol.h seam (benches/protocol_ir.rs): get hit,
# set 100 B, mg with flags, a 100-key get, mn (the floor), for every registered protocol
# ("c", and "rust" beside it once registered) over slab.
# make bench-protocol-ir runs the protocol half alone.
# Deterministic, unlike criterion's wall times (cargo bench --bench storage,
# --bench protocol).
# Needs valgrind; gungraun-runner (the library's exact version) is installed
# into target/gungraun/ on first use.

.PHONY: bench-ir bench-protocol-ir

GUNGRAUN_VERSION := $(shell sed -n 's/^gungraun = "=\(.*\)"/\1/p' Cargo.toml)
GUNGRAUN_RUNNER := target/gungraun/bin/gungraun-runner

$(GUNGRAUN_RUNNER):
	cargo install --locked --version $(GUNGRAUN_VERSION) gungraun-runner --root target/gungraun

bench-ir: $(GUNGRAUN_RUNNER)
	GUNGRAUN_RUNNER=$(abspath $(GUNGRAUN_RUNNER)) cargo bench --locked --bench storage_ir --bench protocol_ir

bench-protocol-ir: $(GUNGRAUN_RUNNER)
	GUNGRAUN_RUNNER=$(abspath $(GUNGRAUN_RUNNER)) cargo bench --locked --bench protocol_ir
