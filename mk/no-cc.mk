# The no-C-compiler proof (issue 16): molt-rs and its whole dependency tree
# build with CC=false and CXX=false, so any cc build script (aws-lc-rs, ring,
# the mixed binary's build.rs) would fail the build. Its own target dir,
# emptied first: target/release holds artifacts a C compiler built, which
# cargo would reuse instead of proving anything.

.PHONY: no-cc

NO_CC_DIR := target/no-cc

no-cc:
	rm -rf $(NO_CC_DIR)
	CC=false CXX=false cargo build --release --locked -j2 -p molt-server --target-dir $(NO_CC_DIR)
	$(NO_CC_DIR)/release/molt-rs -V
