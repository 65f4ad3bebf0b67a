# make diff-protocol: the long run of the protocol differential fuzzer
# (tests/diff_protocol/): the same random and mutated streams into two
# protocol.h implementations over slab and over seg, in process. "c" vs
# "rust" once the mixed binary registers "rust", else "c" vs "c";
# DIFF_PROTOCOLS=a,b to choose. DIFF_REQUESTS (total over both engines,
# default 10 million), DIFF_SEED; the last lines give streams, requests,
# seconds and divergences. The bounded run is part of `cargo test`.

DIFF_REQUESTS ?= 10000000

.PHONY: diff-protocol

diff-protocol:
	DIFF_REQUESTS=$(DIFF_REQUESTS) cargo test --release --locked --test diff_protocol -- --nocapture --exact protocols_answer_alike
