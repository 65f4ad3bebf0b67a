# make bench-ir: instructions per storage operation for slab and seg through
# the storage.h seam (benches/storage_ir.rs, gungraun = callgrind): get hit,
# get miss, set 64 B, set 1 KiB, delete, incr, 90/10 mix over 1M keys.
# Deterministic, unlike criterion's wall times (cargo bench --bench storage).
# Needs valgrind; gungraun-runner (the library's exact version) is installed
# into target/gungraun/ on first use.

.PHONY: bench-ir

GUNGRAUN_VERSION := $(shell sed -n 's/^gungraun = "=\(.*\)"/\1/p' Cargo.toml)
GUNGRAUN_RUNNER := target/gungraun/bin/gungraun-runner

$(GUNGRAUN_RUNNER):
	cargo install --locked --version $(GUNGRAUN_VERSION) gungraun-runner --root target/gungraun

bench-ir: $(GUNGRAUN_RUNNER)
	GUNGRAUN_RUNNER=$(abspath $(GUNGRAUN_RUNNER)) cargo bench --locked --bench storage_ir
