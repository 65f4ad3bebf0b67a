"""What a run measures and for how long: the quick and the full plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Plan:
    mode: str
    runs: int  # alternating rounds: A B C D, D C B A, A B C D, ...
    threads: int = 1
    memory_mb: int = 64
    value_size: int = 100
    # Timed figures (every workload, every load): closed-loop maxima and
    # open-loop latency runs, each on a fresh server with keys preloaded.
    tput_seconds: float = 3.5  # closed loop, the maximum
    lat_seconds: float = 5.0  # open loop, one load
    warmup: float = 0.3
    keys: int = 100_000
    # Offered loads, as fractions of memcached's measured maximum of workload (a).
    loads: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    # The load at which workloads (b) and (c), -t 2 and server CPU at depth 1 are measured.
    main_load: float = 0.5
    # memory and capacity
    rss_keys: int = 200_000
    cap_keys: int = 1_000_000
    # large heap: -m large_memory_mb, large_keys keys stored (fill time, items kept, RSS)
    large_memory_mb: int = 1024
    large_keys: int = 10_000_000
    # instructions per request under callgrind
    cg_requests: int = 200_000
    cg_keys: int = 10_000
    cg_conns: int = 4
    cg_depth: int = 16
    # TLS handshakes per second (full, resumed): measured seconds per run
    handshake_seconds: float = 2.0
    # seconds a fresh server, its preload and the client's start-up take
    overhead_seconds: float = 0.6

    def as_dict(self) -> dict:
        return asdict(self)

    def timed_seconds(self, closed: bool) -> float:
        return (self.tput_seconds if closed else self.lat_seconds) + self.warmup + self.overhead_seconds

    def handshake_run_seconds(self) -> float:
        return self.handshake_seconds + self.warmup + self.overhead_seconds / 2  # no preload

    def large_heap_seconds(self) -> float:
        # fill at ~0.7-1.3M sets/s (memcached ~0.3M), sampled read-back, start-up
        return 1.0 + self.large_keys * 1.5e-6

    def rss_seconds(self) -> float:
        return 1.0 + self.rss_keys * 4e-6

    def capacity_seconds(self) -> float:
        return 1.0 + self.cap_keys * 5e-6

    def callgrind_seconds(self) -> float:
        return 1.0 + self.cg_requests * 1.2e-5


# A first look in about 5 minutes (6.3 with 1 s runs and five loads; 4.4 with
# these, estimated 6 before the overhead was set from that run, 2026-12-07):
# shorter runs, the load sweep at 10/50/90% only.
QUICK = Plan(mode="quick", runs=2, tput_seconds=0.8, lat_seconds=0.8, warmup=0.2, keys=20_000,
             loads=(0.1, 0.5, 0.9), overhead_seconds=0.3, rss_keys=100_000, cap_keys=200_000,
             large_keys=500_000, cg_requests=10_000, handshake_seconds=0.5)
FULL = Plan(mode="full", runs=3)


def plan_for(quick: bool) -> Plan:
    return QUICK if quick else FULL
