# make ab [QUICK=1]: molt-c, molt (slab, seg) and memcached 1.6 side by side:
# throughput, latency, memory/capacity and callgrind instructions per request.
# Report: target/ab/report.md (+ results.json, *.svg). make ab-publish copies
# the report and charts to docs/ab/. Scripts: scripts/ab/ (run.py drives).

.PHONY: ab ab-deps ab-publish ab-callgrind

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
