#!/usr/bin/env python3
"""TLS checks of a running molt with Python's ssl module (OpenSSL).

Usage: client.py DIR TLS_PORT MTLS_PORT
DIR holds ca.pem, client.pem/client.key (signed by ca.pem) and
rogue.pem/rogue.key (another CA). TLS_PORT serves TLS, MTLS_PORT mutual TLS
with ca.pem as client CA. Exits non-zero on the first failure.
"""
import os
import socket
import ssl
import sys
import time

DIR, PORT, MPORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def path(name):
    return os.path.join(DIR, name)


def context(version=None, cert=None):
    ctx = ssl.create_default_context(cafile=path("ca.pem"))  # verifies "localhost"
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    if cert is not None:
        ctx.load_cert_chain(path(cert + ".pem"), path(cert + ".key"))
    return ctx


def connect(port, ctx, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="localhost", session=session)


def read_until(s, end):
    buf = b""
    while not buf.endswith(end):
        d = s.recv(65536)
        if not d:
            raise AssertionError("server closed; got %r" % buf)
        buf += d
    return buf


def roundtrip(s, key, value):
    s.sendall(b"set %s 5 0 %d\r\n%s\r\nget %s\r\n" % (key, len(value), value, key))
    got = read_until(s, b"END\r\n")
    want = b"STORED\r\nVALUE %s 5 %d\r\n%s\r\nEND\r\n" % (key, len(value), value)
    assert got == want, "round trip: %r" % got[:200]


def stat(port, ctx, name):
    with connect(port, ctx) as s:
        s.sendall(b"stats\r\n")
        for line in read_until(s, b"END\r\n").decode().split("\r\n"):
            parts = line.split(" ")
            if len(parts) == 3 and parts[1] == name:
                return int(parts[2])
    raise AssertionError("no STAT " + name)


def rejected(port, ctx):
    """True when the server refuses the handshake (TLS 1.3 clients may only
    notice on their first read)."""
    try:
        with connect(port, ctx) as s:
            s.sendall(b"version\r\n")
            return not s.recv(1024).startswith(b"VERSION")
    except (ssl.SSLError, OSError):
        return True


def check(name, fn):
    fn()
    print("ok   python ssl: " + name)


def set_get():
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        with connect(PORT, context(version)) as s:
            assert s.version() == version.name.replace("v1_", "v1."), s.version()
            roundtrip(s, b"py:" + s.version().encode(), os.urandom(30000).hex().encode())


def resumption():
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = context(version)
        before = stat(PORT, context(), "tls_resumed_sessions")
        with connect(PORT, ctx) as s:
            roundtrip(s, b"r", b"first")  # a read also picks up TLS 1.3 tickets
            session = s.session
        with connect(PORT, ctx, session=session) as s:
            assert s.session_reused, "%s: session not reused" % version.name
            roundtrip(s, b"r", b"second")
        after = stat(PORT, context(), "tls_resumed_sessions")
        assert after == before + 1, "tls_resumed_sessions %d -> %d" % (before, after)


def mutual_accept():
    with connect(MPORT, context(cert="client")) as s:
        roundtrip(s, b"mtls", b"accepted")


def mutual_reject():
    good = context(cert="client")
    before = stat(MPORT, good, "tls_handshake_errors")
    assert rejected(MPORT, context()), "accepted without a client certificate"
    assert rejected(MPORT, context(cert="rogue")), "accepted a certificate from another CA"
    assert rejected(MPORT, context(ssl.TLSVersion.TLSv1_2)), "TLS 1.2 without a client certificate"
    after = stat(MPORT, good, "tls_handshake_errors")
    for _ in range(100):  # the count may trail the client's view by a moment
        if after == before + 3:
            break
        time.sleep(0.02)
        after = stat(MPORT, good, "tls_handshake_errors")
    assert after == before + 3, "tls_handshake_errors %d -> %d" % (before, after)
    mutual_accept()  # still serving


check("TLS 1.2 and 1.3 set/get round trips", set_get)
check("session resumption (TLS 1.2 and 1.3)", resumption)
check("mutual TLS accepts a client certificate from the CA", mutual_accept)
check("mutual TLS rejects no certificate and another CA's", mutual_reject)
