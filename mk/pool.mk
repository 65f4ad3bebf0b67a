# A three-node molt pool behind twemproxy (nutcracker), ketama, node
# ejection: tests/pool.rs, documented in docs/POOL.md. Installs nutcracker
# first (Debian package) when missing.

.PHONY: pool

pool: build
	@command -v nutcracker >/dev/null 2>&1 || [ -x /usr/sbin/nutcracker ] || { \
	    echo "installing: nutcracker"; \
	    [ "$$(id -u)" = 0 ] || { echo "error: nutcracker missing (run as root, or apt-get install nutcracker)" >&2; exit 1; }; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nutcracker >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nutcracker >/dev/null; }; }
	cargo test --release --locked --test pool -- --nocapture
