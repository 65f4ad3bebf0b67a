"""pylibmc (libmemcached) in binary mode against one server: 1,000 keys
stored and read back one by one and in one multi-get, then the other
commands a binary client uses. Usage: client.py PORT. Exits non-zero (an
assertion or a pylibmc error) on any wrong answer."""
import sys

import pylibmc

port = int(sys.argv[1])
mc = pylibmc.Client(["127.0.0.1:%d" % port], binary=True, behaviors={"cas": True})

mc.flush_all()
keys = ["key:%04d" % i for i in range(1000)]
values = {k: ("value-%d-" % i).encode() + b"\x00\r\n\x80" * (i % 37) for i, k in enumerate(keys)}
for k, v in values.items():
    assert mc.set(k, v), k
for k in keys:
    got = mc.get(k)
    assert got == values[k], (k, got)
assert mc.get_multi(keys) == values
assert mc.get("missing") is None

# values pylibmc encodes with flags: ints, pickled objects
mc.set("int", 42)
assert mc.get("int") == 42
mc.set("obj", {"a": [1, 2]})
assert mc.get("obj") == {"a": [1, 2]}

def refused(call, *args):
    """libmemcached answers a refused add/replace/cas with False or an
    exception, by protocol and version: either counts as refused."""
    try:
        return not call(*args)
    except (pylibmc.NotFound, pylibmc.DataExists):
        return True


# add / replace / append / prepend
assert refused(mc.add, "key:0000", b"x")
assert mc.add("fresh", b"x")
assert refused(mc.replace, "never", b"x")
assert mc.replace("fresh", b"y")
assert mc.append("fresh", b"z") and mc.prepend("fresh", b"<")
assert mc.get("fresh") == b"<yz"

# incr / decr
mc.set("n", "10")
assert mc.incr("n", 5) == 15
assert mc.decr("n", 20) == 0
try:
    mc.incr("no-counter")
    raise AssertionError("incr on a missing key must fail")
except pylibmc.NotFound:
    pass

# cas
value, cas = mc.gets("fresh")
assert value == b"<yz"
assert mc.cas("fresh", b"new", cas)
assert refused(mc.cas, "fresh", b"newer", cas)
assert mc.get("fresh") == b"new"

# delete, multi set / delete, touch
assert mc.delete("fresh") and not mc.delete("fresh")
assert mc.set_multi({"m1": b"1", "m2": b"2"}) == []
assert mc.get_multi(["m1", "m2", "m3"]) == {"m1": b"1", "m2": b"2"}
assert mc.delete_multi(["m1", "m2"])
assert mc.touch("key:0001", 100)
assert mc.get("key:0001") == values["key:0001"]

# stats come back as one dict per server
(_, stats), = mc.get_stats()
assert int(stats["curr_items"]) >= 1000, stats.get("curr_items")

mc.flush_all()
assert mc.get("key:0000") is None
print("pylibmc binary: 1000 keys and every command answered right")
