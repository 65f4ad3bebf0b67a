"""Pause the kernel's DAMON monitors (kdamond) for the length of a run.

This machine runs a DAMON "pageout" scheme over physical memory (sysfs
admin interface, /sys/kernel/mm/damon/admin/kdamonds). Its kernel thread
wakes about 2-3 times a second and runs about 2 ms each time
(/proc/PID/schedstat: 50 ms of CPU in 26 slices over 10 s, 2026-12-07), on
either core. With the server pinned to one core and the client to the
other, each wake-up on the server's core can stall the server for about
that long: some 0.3% of a 5 s open-loop run's requests, enough to set a
p999 -- the suspect for every target's p999 (memcached's too) sitting at
5-9 ms on an otherwise quiet machine. Measured, it is not what sets that
floor: with the monitors paused (run.py --only max_a,load_a_50, 05:49,
2026-12-07) p999 at workload (a) 50% was still 5.0-7.0 ms for every
target, spreads 1.2-1.4x. So pausing is opt-in (AB_PAUSE_DAMON=1, as
root): each paused monitor is put back ("on", same configuration: the
sysfs files keep it) when the run ends, also on an exception, Ctrl-C or
SIGTERM. The report says which.
"""

from __future__ import annotations

import atexit
import glob
import os
import signal

ADMIN = "/sys/kernel/mm/damon/admin/kdamonds"


def _running(admin: str) -> list[str]:
    """The state files of the kdamonds that are on."""
    on = []
    for state in sorted(glob.glob(os.path.join(admin, "*", "state"))):
        try:
            with open(state) as f:
                if f.read().strip() == "on":
                    on.append(state)
        except OSError:
            pass
    return on


def _write(state: str, value: str) -> bool:
    try:
        with open(state, "w") as f:
            f.write(value)
        return True
    except OSError:
        return False


def _exit_on_sigterm(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


class Pause:
    """`with Pause() as p:` kdamonds off inside, back on after; p.note says
    what happened, for the report."""

    def __init__(self, admin: str = ADMIN, wanted: bool | None = None):
        self.admin = admin
        self.wanted = os.environ.get("AB_PAUSE_DAMON", "") == "1" if wanted is None else wanted
        self.paused: list[str] = []
        self.note = "none running"

    def __enter__(self) -> "Pause":
        running = _running(self.admin)
        if not running:
            return self
        if not self.wanted:
            self.note = f"{len(running)} running, left on (AB_PAUSE_DAMON=1 pauses them)"
            return self
        self.paused = [s for s in running if _write(s, "off")]
        left = len(running) - len(self.paused)
        self.note = (f"{len(self.paused)} paused for the run, restarted after (scripts/ab/damon.py)"
                     + (f"; {left} could not be paused (not root?)" if left else ""))
        atexit.register(self.resume)
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _exit_on_sigterm)  # unwinds through __exit__ and atexit
        return self

    def resume(self) -> None:
        for state in self.paused:
            _write(state, "on")
        self.paused = []

    def __exit__(self, *exc) -> None:
        self.resume()
