# make ab [QUICK=1] [AB_OUT=DIR]: molt-c, molt (slab, seg) and memcached 1.6
# side by side: maxima and latency against offered load for three workloads,
# server CPU per request, -t 2, memory/capacity/large heap and callgrind
# instructions per request. QUICK=1: about 4-5 min; full: about 28 min; both
# print a line per run with the time left. Report: AB_OUT/report.md (+
# results.json, *.svg; default target/ab). make ab-publish [AB_OUT=DIR]
# [AB_DOCS=DIR] copies the report and charts to docs/ab/ (or AB_DOCS).
# Scripts: scripts/ab/ (run.py drives).

.PHONY: ab ab-deps ab-publish ab-callgrind ab-capacity ab-selftest

AB_FLAGS := $(if $(QUICK),--quick,) $(if $(AB_OUT),--out $(AB_OUT),)
AB_PUBLISH_FLAGS := $(if $(AB_OUT),--from $(AB_OUT),) $(if $(AB_DOCS),--to $(AB_DOCS),)

ab-deps:
	@python3 scripts/ab/deps.py

ab: ab-deps build
	python3 scripts/ab/run.py $(AB_FLAGS)

ab-publish:
	@python3 scripts/ab/publish.py $(AB_PUBLISH_FLAGS)

# The report's rules (client-bound cells, the validity check, ratios) and the DAMON pause on
# made-up runs: seconds, no server.
ab-selftest: ab-deps
	cd scripts/ab && python3 -m unittest -v test_report test_damon test_callgrind

# Instructions per request only (callgrind; molt-c, molt slab, molt seg):
# the repeatable figure for "did this change make requests dearer".
ab-callgrind: ab-deps build
	cd scripts/ab && python3 callgrind_only.py

# Capacity only, side by side in one run (memcached, molt-c, molt slab, molt
# seg): items readable, RSS and items per resident MiB. CAP_ARGS="--memory-mb
# 1024 --keys 10000000" for the large size.
ab-capacity: ab-deps build
	cd scripts/ab && python3 capacity_only.py $(CAP_ARGS)
