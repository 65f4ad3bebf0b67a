"""A small memcache text-protocol client for bulk loads and read-back counts.

Values are a function of the key index, so every value read back is checked:
the first 12 bytes are the index, the rest a slice of a fixed pattern that
starts at an index-dependent offset. Sets go out with `noreply` in batches,
each batch closed by `version`: the client waits for that one reply before
the next batch, so at most one batch is ever in flight (the server is never
overrun) and an error reply (none are expected) would surface there.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

PATTERN = bytes(range(ord("a"), ord("z") + 1)) * 20
INDEX_DIGITS = 12


def key_of(prefix: str, i: int) -> bytes:
    return f"{prefix}{i:0{INDEX_DIGITS}d}".encode()


def value_of(i: int, size: int) -> bytes:
    head = f"{i:0{INDEX_DIGITS}d}".encode()
    off = i % 26
    return head + PATTERN[off : off + size - INDEX_DIGITS]


@dataclass
class ReadBack:
    asked: int
    hits: int
    wrong: int


class Client:
    """One blocking connection with a deadline for the whole session."""

    def __init__(self, port: int, deadline_s: float, io_timeout_s: float = 10.0):
        self.deadline = time.monotonic() + deadline_s
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=io_timeout_s)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise TimeoutError("memclient: session deadline exceeded")

    def _read_until(self, marker: bytes) -> bytes:
        """Return everything up to and including the first `marker`."""
        while True:
            at = self.buf.find(marker)
            if at >= 0:
                end = at + len(marker)
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            self._check_deadline()
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("memclient: server closed the connection")
            self.buf += chunk

    def command(self, line: bytes) -> bytes:
        """Send one command, return its one-line reply."""
        self.sock.sendall(line + b"\r\n")
        return self._read_until(b"\r\n")

    def load(self, prefix: str, count: int, size: int, batch: int = 500) -> None:
        """Store keys 0..count-1 with noreply sets, one batch in flight."""
        for start in range(0, count, batch):
            self._check_deadline()
            parts = []
            for i in range(start, min(start + batch, count)):
                parts.append(b"set %s 0 0 %d noreply\r\n%s\r\n" % (key_of(prefix, i), size, value_of(i, size)))
            parts.append(b"version\r\n")
            self.sock.sendall(b"".join(parts))
            reply = self._read_until(b"\r\n")
            if not reply.startswith(b"VERSION "):
                raise RuntimeError(f"memclient: unexpected reply during load: {reply[:80]!r}")

    def read_back(self, prefix: str, count: int, size: int, per_get: int = 100) -> ReadBack:
        """Multi-get keys 0..count-1; count hits and values that are wrong."""
        hits = wrong = 0
        for start in range(0, count, per_get):
            self._check_deadline()
            idx = range(start, min(start + per_get, count))
            self.sock.sendall(b"get " + b" ".join(key_of(prefix, i) for i in idx) + b"\r\n")
            reply = self._read_until(b"END\r\n")
            h, w = _check_values(reply, prefix, set(idx), size)
            hits += h
            wrong += w
        return ReadBack(asked=count, hits=hits, wrong=wrong)

    def stats(self) -> dict[str, str]:
        self.sock.sendall(b"stats\r\n")
        out = {}
        for line in self._read_until(b"END\r\n").split(b"\r\n"):
            parts = line.split(b" ")
            if len(parts) == 3 and parts[0] == b"STAT":
                out[parts[1].decode()] = parts[2].decode()
        return out


def _check_values(reply: bytes, prefix: str, wanted: set[int], size: int) -> tuple[int, int]:
    """Parse `VALUE key flags len\\r\\ndata\\r\\n`... `END\\r\\n`."""
    hits = wrong = 0
    pos = 0
    plen = len(prefix)
    while not reply.startswith(b"END\r\n", pos):
        eol = reply.index(b"\r\n", pos)
        head = reply[pos:eol].split(b" ")
        if head[0] != b"VALUE" or len(head) < 4:
            raise RuntimeError(f"memclient: malformed reply line {reply[pos:eol][:80]!r}")
        n = int(head[3])
        data = reply[eol + 2 : eol + 2 + n]
        pos = eol + 2 + n + 2
        key = head[1].decode()
        i = int(key[plen:]) if key.startswith(prefix) else -1
        if i in wanted and data == value_of(i, size) and head[2] == b"0":
            hits += 1
        else:
            wrong += 1
    return hits, wrong
