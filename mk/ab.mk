# make ab [QUICK=1]: molt-c, molt (slab, seg) and memcached 1.6 side by side:
# throughput, latency, memory/capacity and callgrind instructions per request.
# Report: target/ab/report.md (+ results.json, *.svg). make ab-publish copies
# the report and charts to docs/ab/. Scripts: scripts/ab/ (run.py drives).

.PHONY: ab ab-deps ab-publish ab-callgrind ab-capacity

AB_FLAGS := $(if $(QUICK),--quick,)

ab-deps:
	@python3 scripts/ab/deps.py

ab: ab-deps build
	python3 scripts/ab/run.py $(AB_FLAGS)

ab-publish:
	@python3 scripts/ab/publish.py

# Instructions per request only (callgrind; molt-c, molt slab, molt seg):
# the repeatable figure for "did this change make requests dearer".
ab-callgrind: ab-deps build
	cd scripts/ab && python3 callgrind_only.py

# Capacity only, side by side in one run (memcached, molt-c, molt slab, molt
# seg): items readable, RSS and items per resident MiB. CAP_ARGS="--memory-mb
# 1024 --keys 10000000" for the large size.
ab-capacity: ab-deps build
	cd scripts/ab && python3 capacity_only.py $(CAP_ARGS)
