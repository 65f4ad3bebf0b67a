# Fuzzing: `make fuzz-smoke` (short libFuzzer run on the C parser plus the
# regression inputs; the Rust fuzzers' short budget runs in `cargo test`)
# and `make fuzz` (FUZZ_SECONDS, default 600, of libFuzzer, the socket
# protocol fuzzer on every target and the storage differential fuzzer).
# See scripts/hardening/fuzz.sh and fuzz/.

FUZZ_SECONDS ?=

.PHONY: fuzz fuzz-smoke hostile

fuzz: deps build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/hardening/fuzz.sh long

fuzz-smoke: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/hardening/fuzz.sh smoke

# Hostile clients against every target (also part of `cargo test`).
hostile: build
	cargo test --release --locked --test hostile -- --nocapture
