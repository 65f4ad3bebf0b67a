"""The request mixes the timed figures use: (a) many connections with one
request in flight each, (b) a few pipelined connections, (c) 10-key
multi-gets over many connections. All 90/10 get/set over preloaded keys,
every get must hit and every value is verified."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    conns: int
    depth: int  # requests in flight per connection, at most
    multiget: int = 1

    def shape(self) -> str:
        mg = f", {self.multiget}-key gets" if self.multiget > 1 else ""
        return f"{self.conns} connections x {self.depth} in flight{mg}"


A = Workload("a", "(a) 100 connections, one request in flight each", conns=100, depth=1)
B = Workload("b", "(b) pipelined: 8 connections, up to 16 in flight each", conns=8, depth=16)
C = Workload("c", "(c) 10-key multi-gets, 100 connections, one in flight each", conns=100, depth=1, multiget=10)
WORKLOADS = {w.key: w for w in (A, B, C)}
