/* conn.h - one client connection: buffers, I/O through transport.h, and its
 * protocol session (protocol.h), which keeps the request state between
 * reads. */
#ifndef MOLT_CONN_H
#define MOLT_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "protocol.h"
#include "transport.h"
#include "util/buf.h"

struct molt_worker;

#define CONN_BUF_INITIAL (16 * 1024)
/* Buffers above this size are released back to CONN_BUF_INITIAL when idle. */
#define CONN_BUF_KEEP (256 * 1024)
/* Longest command line accepted (a multi-get of thousands of keys fits). */
#define CONN_LINE_MAX (1024 * 1024)
/* A handshake (TLS) not finished within this many seconds is dropped, so a
 * client that stalls mid-handshake cannot hold a connection slot. */
#define CONN_HANDSHAKE_TIMEOUT_S 10
/* Stop parsing new requests while this much output waits to be sent. */
#define CONN_WBUF_HIGH (1024 * 1024)
/* Room past the high-water mark: the largest value with its header. */
#define CONN_WBUF_SLACK 4096

typedef struct molt_conn {
    int fd;
    molt_transport_conn *tc;
    struct molt_worker *worker;
    molt_buf rbuf;        /* input not yet consumed by the protocol */
    molt_buf wbuf;        /* replies not yet written */
    size_t rbuf_limit;
    molt_protocol_session *session;
    int handshaking;
    int close_after_write; /* quit, or a fatal protocol error */
    int peer_closed;
    int paused;           /* the protocol paused: output backed up */
    uint32_t interest;    /* epoll events currently registered */
    int deferred;         /* on the worker's ready list */
    int64_t opened_at;    /* unix seconds, for the handshake timeout */
    int draining;         /* server shutdown: no more reads, answer, close */
    int lingering;        /* replies sent and write side shut: discarding
                             input until the peer closes (no RST) */
    int awaiting_block;   /* the protocol waits for the rest of a data
                             block: not idle (as memcached's conn_nread) */
    int watching;         /* a `watch` log stream (server/watch.c) */
    /* For `stats conns` (server/conns.c), read by any worker: the peer is
     * set before the connection is listed and never changes; last_cmd
     * (unix seconds of the last read batch that ran a command, else of the
     * accept) is written by the owner with relaxed atomic stores. */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    _Atomic int64_t last_cmd;
    struct molt_conn *prev, *next;  /* worker's list of connections; linked
                                       and unlinked under conns_lock */
    struct molt_conn *ready_next;   /* worker's ready list */
} molt_conn;

/* The connection whose input this thread is running the protocol on, or
 * NULL (only meaningful to the worker's own thread). */
molt_conn *conn_current(void);

/* Create a connection for an accepted, non-blocking socket. NULL on error
 * (the socket is closed). */
molt_conn *conn_open(struct molt_worker *w, int fd);
/* Handle readiness events (EPOLLIN/EPOLLOUT bits), or a deferred turn when
 * events == 0. May close and free c. */
void conn_on_events(molt_conn *c, uint32_t events);
/* Close the socket and free everything. */
void conn_close(molt_conn *c);
/* Close c if its handshake has run past the deadline (now, seconds). */
void conn_expire_handshake(molt_conn *c, int64_t now);
/* -o idle_timeout: close c if it has waited for a command longer than
 * `timeout` seconds (memcached's rule: not while a data block is coming in
 * or replies are going out, nor a watcher). Returns 1 if it closed c. */
int conn_expire_idle(molt_conn *c, int64_t now, int64_t timeout);
/* Graceful shutdown: read what the socket already holds, stop reading,
 * answer every complete request, flush, shut the write side and close once
 * the peer has seen everything. May close and free c. */
void conn_drain(molt_conn *c);

#endif
