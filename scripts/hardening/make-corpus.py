#!/usr/bin/env python3
"""(Re)generate the committed protocol seed corpus fuzz/corpus/proto/ from
the conformance transcripts' request side, plus a few hand-written seeds.

Each corpus file is one libFuzzer input for fuzz/proto_fuzz.c: a mode byte
(chunking / slow reader, see proto_fuzz.c) followed by raw protocol bytes.
tests/fuzz_proto.rs reads the same files (skipping the mode byte) as the
seeds it mutates against live servers.
Usage: make-corpus.py [REPO_ROOT]"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay import unescape  # noqa: E402

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
src = os.path.join(root, "tests", "transcripts")
out = os.path.join(root, "fuzz", "corpus", "proto")
os.makedirs(out, exist_ok=True)


def requests(path):
    data = bytearray()
    for raw in open(path, encoding="latin-1"):
        line = raw.rstrip("\n")
        if line.startswith(">> "):
            data += unescape(line[3:])
        elif line.startswith("> ") or line == ">":
            data += line[2:].encode("latin-1") + b"\r\n"
    return bytes(data)


count = 0
for name in sorted(os.listdir(src)):
    if not name.endswith(".txt"):
        continue
    body = requests(os.path.join(src, name))
    if not body:
        continue
    stem = name[:-4]
    # mode 0x00: all at once; 0xc5: small chunks, slow reader.
    for mode, tag in ((0x00, "whole"), (0xC5, "chunked")):
        with open(os.path.join(out, f"{stem}.{tag}"), "wb") as f:
            f.write(bytes([mode]) + body)
        count += 1

extra = {
    "multiget_many": b"get " + b" ".join(b"key%d" % i for i in range(3000)) + b"\r\n",
    "data_too_long": b"set a 0 0 3\r\nabcdef\r\nget a\r\n",
    "data_too_short": b"set a 0 0 10\r\nabc\r\nget a\r\n",
    "noreply_mix": b"set a 1 0 1 noreply\r\nx\r\nincr a 1 noreply\r\nappend a 0 0 1 noreply\r\n1\r\ngets a\r\n",
    "cas_chain": b"set c 0 0 1\r\n1\r\ngets c\r\ncas c 0 0 1 1\r\n2\r\ncas c 0 0 1 99999999999999999999\r\n3\r\n",
    "gat_neg": b"set t 0 0 1\r\nz\r\ngat -1 t\r\ngats 100 t t t\r\ntouch t -1\r\nget t\r\n",
    "incr_wrap": b"set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\ndecr n 5\r\n",
    "big_value": b"set big 0 0 70000\r\n" + b"v" * 70000 + b"\r\nget big big big\r\n",
    "too_large": b"set huge 0 0 2000000\r\n" + b"h" * 1000 + b"\r\nversion\r\n",
    "bare_lf": b"set a 0 0 1\nx\nget a\nflush_all 0\nstats\nstats reset\nverbosity 1\n",
}
for stem, body in extra.items():
    for mode, tag in ((0x00, "whole"), (0x93, "chunked")):
        with open(os.path.join(out, f"{stem}.{tag}"), "wb") as f:
            f.write(bytes([mode]) + body)
        count += 1
print(f"make-corpus: {count} seeds in {out}")
