#!/usr/bin/env python3
"""Replay the request side of every conformance transcript against a live
server (answers are drained, not judged), or with --hostile send a few
hostile inputs (over-long line, garbage, short data block, half-closed
connections). Used by drive.sh to give sanitized and valgrind'd servers
something to chew on before their leak check at exit."""
import os
import random
import socket
import sys
import time


def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "r":
                out += b"\r"; i += 2; continue
            if n == "n":
                out += b"\n"; i += 2; continue
            if n == "t":
                out += b"\t"; i += 2; continue
            if n == "\\":
                out += b"\\"; i += 2; continue
            if n == "x" and i + 3 < len(s) + 1:
                out.append(int(s[i + 2:i + 4], 16)); i += 4; continue
        out += c.encode("latin-1")
        i += 1
    return bytes(out)


def drain(sock, quiet=0.05):
    sock.settimeout(quiet)
    got = 0
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                break
            got += len(b)
    except (socket.timeout, ConnectionResetError):
        pass
    return got


def check_alive(port):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"version\r\n")
    s.settimeout(10)
    line = s.recv(100)
    s.close()
    assert line.startswith(b"VERSION "), line


def replay(port, folder):
    n = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".txt"):
            continue
        s = socket.create_connection(("127.0.0.1", port), 10)
        for raw in open(os.path.join(folder, name), encoding="latin-1"):
            line = raw.rstrip("\n")
            if line.startswith(">> "):
                s.sendall(unescape(line[3:]))
            elif line.startswith("> ") or line == ">":
                s.sendall(line[2:].encode("latin-1") + b"\r\n")
            elif line.startswith("sleep"):
                drain(s)
            else:
                continue
            n += 1
        drain(s, 0.2)
        s.close()
    check_alive(port)
    print(f"replay: {n} transcript requests replayed")


def hostile(port):
    rnd = random.Random(7)
    # A line that never ends: the server must answer "line too long" and close.
    s = socket.create_connection(("127.0.0.1", port), 10)
    try:
        for _ in range(80):
            s.sendall(b"g" * 16384)
    except (BrokenPipeError, ConnectionResetError):
        pass
    drain(s, 0.5)
    s.close()
    # Garbage, short data blocks, long data blocks, abrupt closes.
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", port), 10)
        kind = i % 4
        try:
            if kind == 0:
                s.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 4096))))
            elif kind == 1:
                s.sendall(b"set k%d 0 0 100\r\nshort" % i)
            elif kind == 2:
                s.sendall(b"set k%d 0 0 3\r\nmuch too long\r\nget k%d\r\n" % (i, i))
            else:
                s.sendall(b"get " + b" ".join(b"key%d" % j for j in range(2000)) + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        if i % 2:
            drain(s, 0.02)
        s.close()
    time.sleep(0.2)
    check_alive(port)
    print("replay: hostile inputs survived")


if __name__ == "__main__":
    if sys.argv[1] == "--hostile":
        hostile(int(sys.argv[2]))
    else:
        replay(int(sys.argv[1]), sys.argv[2])
