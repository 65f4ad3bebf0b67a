"""What a run measures and for how long: the quick and the full plan."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Plan:
    mode: str
    runs: int  # alternating rounds: A B C D, A B C D, ...
    threads: int = 1
    memory_mb: int = 64
    value_size: int = 100
    # 1. maximum throughput: closed loop, pipelined
    tput_seconds: float = 10.0
    tput_warmup: float = 1.0
    tput_conns: int = 8
    tput_depth: int = 16
    tput_keys: int = 100_000
    # 2. latency: open loop at a fixed rate (None: half of memcached's maximum)
    lat_rate: int | None = None
    lat_seconds: float = 10.0
    lat_warmup: float = 1.0
    lat_conns: int = 1
    lat_depth: int = 32
    lat_keys: int = 100_000
    # 3. memory and capacity
    rss_keys: int = 200_000
    cap_keys: int = 1_000_000
    # 4. instructions per request under callgrind
    cg_requests: int = 200_000
    cg_keys: int = 10_000
    cg_conns: int = 4
    cg_depth: int = 16

    def as_dict(self) -> dict:
        return asdict(self)

    def estimate_seconds(self, n_targets: int) -> float:
        """Rough wall time of the measurements (start-up and loads included)."""
        per_round = (
            self.tput_seconds + self.tput_warmup + 1.5
            + self.lat_seconds + self.lat_warmup + 1.5
            + 1.5 + self.rss_keys * 7e-6
            + 1.5 + self.cap_keys * 9e-6
            + 4.0 + self.cg_requests * 2.5e-5
        )
        return per_round * self.runs * n_targets


QUICK = Plan(mode="quick", runs=3, tput_seconds=2.0, tput_warmup=0.5, lat_rate=20_000,
             lat_seconds=2.0, lat_warmup=0.5, cg_requests=20_000)
FULL = Plan(mode="full", runs=5)


def plan_for(quick: bool) -> Plan:
    return QUICK if quick else FULL
