"""Short scheduler time slices for the server and the client under test.

Linux 6.6+ schedules ordinary tasks with EEVDF: a task that wakes up (a
server with a request to answer, a client with a request due) may wait for
whatever else runs on its core to finish its slice, about 3 ms by default.
On a 2-core machine where kernel threads and other processes come and go,
that wait, not the server, may set p999 (1.4 ms here; not yet shown to
be what sets it). Since 6.12 a task may ask for a
shorter slice (sched_setattr with sched_runtime, SCHED_OTHER kept); a task
with a short slice preempts on wake-up. When asked, both the server and
the client take SLICE_NS, every target alike; threads inherit it. Older kernels refuse
(EINVAL) and the run goes on with the default, which the report records.

Opt-in (AB_SHORT_SLICE=1): on a quiet QUICK run (2026-12-07) it did not
lower p999 at workload (a) 50% (4.8-13.1 ms with it, 4.3-6.9 ms without,
hours apart), so the default runs keep the kernel's slice until a side by
side full run shows what it changes.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

SLICE_NS = 100_000  # the shortest slice the kernel accepts (0.1 ms)
_SYS_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}.get(platform.machine())


def set_short_slice() -> bool:
    """Ask for SLICE_NS for the calling thread (policy SCHED_OTHER, nice 0
    unchanged); False when the kernel or the architecture cannot."""
    if _SYS_SCHED_SETATTR is None:
        return False
    # struct sched_attr (56 bytes): size, policy, flags, nice, priority,
    # runtime, deadline, period, util_min, util_max
    attr = struct.pack("IIQiIQQQII", 56, os.SCHED_OTHER, 0, os.getpriority(os.PRIO_PROCESS, 0), 0,
                       SLICE_NS, 0, 0, 0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_SYS_SCHED_SETATTR, 0, ctypes.create_string_buffer(attr), 0) == 0


def wanted() -> bool:
    return os.environ.get("AB_SHORT_SLICE", "") == "1"


def preexec() -> None:
    """subprocess preexec_fn: the short slice, before exec (failure ignored)."""
    if wanted():
        set_short_slice()


def describe() -> str:
    """For the report: the slice the server and the client ran with."""
    if not wanted():
        return "the kernel's default (AB_SHORT_SLICE=1 asks for a short one)"
    if not available():
        return "the kernel's default (this kernel refuses a custom slice)"
    return f"{SLICE_NS / 1000:g} us (sched_setattr; see scripts/ab/timeslice.py)"


def available() -> bool:
    """Whether this kernel grants short slices (checked in a throwaway child)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if set_short_slice() else 1)
    return os.waitpid(pid, 0)[1] == 0
