# pylibmc (libmemcached's Python binding) in binary mode: 1,000 keys and the
# commands a binary client uses, against memcached, molt --protocol rust on
# slab and seg, and (must fail) the C protocol. Part of make test.

.PHONY: pylibmc-binary

pylibmc-binary: build
	@sh scripts/pylibmc/run.sh $(MOLT)
